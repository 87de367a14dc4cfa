//! Per-record parse cost: the fast path (`source::fast`) and the general
//! decoder (`source::decode`) on the same `{"Records":[...]}` text, built
//! from the bundled sample incident's log files. Run: `cargo bench`.

use std::io::Read;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Every record of the sample's S3 files, as one uncompressed envelope.
fn envelope() -> (Vec<u8>, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs/incident-2026-11-backup-vault/AWSLogs");
    let mut records: Vec<serde_json::Value> = Vec::new();
    for f in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let p = f.path();
        if !p.to_string_lossy().contains("/CloudTrail/") || p.extension().is_none_or(|e| e != "gz")
        {
            continue;
        }
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        records.extend(doc["Records"].as_array().unwrap().iter().cloned());
    }
    let n = records.len() as u64;
    (
        serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap(),
        n,
    )
}

fn parse(c: &mut Criterion) {
    let (text, n) = envelope();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(n));
    g.bench_function("fast path", |b| {
        b.iter(
            || match denydiff::source::fast::decode_text(std::hint::black_box(&text)) {
                denydiff::source::fast::Fast::Items(items) => items.len(),
                denydiff::source::fast::Fast::General(_) => {
                    panic!("the sample takes the fast path")
                }
            },
        );
    });
    g.bench_function("general decoder", |b| {
        b.iter(|| denydiff::source::decode::decode_json(std::hint::black_box(&text)).is_ok());
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
