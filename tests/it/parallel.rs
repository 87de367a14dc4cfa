//! The parallel reader gives exactly the single-threaded result.

use std::process::Command;

use crate::util::{gen_corpus, run, shared};

fn report(threads: &str, path: &str) -> Vec<u8> {
    let out = run(
        &["analyze", "--format", "json", "--threads", threads, path],
        b"",
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn parallel_equals_single_threaded() {
    let Some((dir, logs, _)) = gen_corpus("6", "9", "50") else {
        return;
    };
    // The tree twice over: every record duplicated, so which copy is kept matters.
    let copy = dir.path().join("copy");
    let copied = Command::new("cp")
        .args(["-r", logs.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    let root = dir.path().to_str().unwrap();
    let one = report("1", root);
    assert_eq!(one, report("4", root), "4 threads");
    assert_eq!(one, report("2", root), "2 threads");
    // Each KMS call of the tree is read twice and counted once; records of
    // other services are counted each time (they are not deduplicated).
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let single: serde_json::Value =
        serde_json::from_slice(&report("2", logs.to_str().unwrap())).unwrap();
    let n = |v: &serde_json::Value, field: &str| v["inputs"][field].as_u64().unwrap();
    assert_eq!(n(&v, "kms_calls"), n(&single, "kms_calls"));
    assert_eq!(n(&v, "records"), 2 * n(&single, "records"));
    // The copies of the analysed records (KMS and CloudTrail's own, counted
    // here independently, with flate2 and serde_json) are the duplicates;
    // every other record is counted twice.
    let cloudtrail = cloudtrail_records(&logs);
    assert_eq!(
        n(&v, "duplicates_dropped"),
        n(&single, "kms_calls") + cloudtrail
    );
    assert_eq!(n(&v, "non_kms"), 2 * n(&single, "non_kms") - cloudtrail);
    if let Some(samples) = shared("real-samples") {
        let s = samples.to_str().unwrap();
        assert_eq!(report("1", s), report("3", s), "real samples");
    }
}

/// Records of `cloudtrail.amazonaws.com` in the tree's log files.
fn cloudtrail_records(root: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in walkdir::WalkDir::new(root).into_iter().flatten() {
        let p = e.path();
        if !p.to_string_lossy().contains("/CloudTrail/") || p.extension().is_none_or(|x| x != "gz")
        {
            continue;
        }
        let mut text = Vec::new();
        let file = std::fs::File::open(p).unwrap();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(file), &mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        n += doc["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["eventSource"] == "cloudtrail.amazonaws.com")
            .count() as u64;
    }
    n
}
