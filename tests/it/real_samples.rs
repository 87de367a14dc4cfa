//! The real third-party samples in `../shared/real-samples/`: every file is
//! decoded, and per file the record, KMS, AWSService, invokedBy and errorCode
//! counts must equal those SOURCES.md publishes (an independent count).

use std::collections::BTreeMap;
use std::path::Path;

use denydiff::event::RawRecord;
use denydiff::source::decode::{Decoded, decode};

use crate::util::{analyze_json, assert_books, shared};

/// One row of SOURCES.md's per-file table.
#[derive(Debug)]
struct Row {
    file: String,
    records: Option<u64>,
    kms: u64,
    aws_service: u64,
    invoked_by: u64,
    errors: BTreeMap<String, u64>,
    digest: bool,
}

fn num(cell: &str) -> u64 {
    cell.trim().parse().unwrap_or(0)
}

fn error_counts(cell: &str) -> BTreeMap<String, u64> {
    let cell = cell.trim();
    if cell == "—" || cell.is_empty() {
        return BTreeMap::new();
    }
    cell.split(", ")
        .map(|part| {
            let (code, n) = part.rsplit_once('×').expect("code×n");
            let code = if code == "(empty string)" { "" } else { code };
            (code.to_owned(), num(n))
        })
        .collect()
}

fn rows(sources_md: &str) -> Vec<Row> {
    sources_md
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let c: Vec<&str> = l.split('|').skip(1).map(str::trim).collect();
            Row {
                file: c[0].trim_matches('`').to_owned(),
                records: c[6].trim().parse().ok(),
                kms: num(c[7]),
                aws_service: num(c[8]),
                invoked_by: num(c[9]),
                errors: error_counts(c[10]),
                digest: c[5].contains("digest"),
            }
        })
        .collect()
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    records: u64,
    kms: u64,
    aws_service: u64,
    invoked_by: u64,
    errors: BTreeMap<String, u64>,
}

fn count(records: &[RawRecord]) -> Counts {
    let mut c = Counts::default();
    for r in records {
        let RawRecord::Record(ev) = r else {
            panic!("invalid record in a real sample")
        };
        c.records += 1;
        c.kms += u64::from(denydiff::call::is_kms(ev));
        let id = ev.user_identity.as_ref();
        c.aws_service += u64::from(id.and_then(|i| i.kind.as_deref()) == Some("AWSService"));
        c.invoked_by += u64::from(ev.invoked_by().is_some());
        if let Some(code) = &ev.error_code {
            *c.errors.entry(code.clone()).or_default() += 1;
        }
    }
    c
}

fn check_file(dir: &Path, row: &Row) -> Result<(), String> {
    let bytes = std::fs::read(dir.join(&row.file)).map_err(|e| e.to_string())?;
    match (decode(&bytes), row.records, row.digest) {
        // A digest is recognised; a file published as not valid JSON must fail.
        (Ok(Decoded::Digest), _, true) | (Err(_), None, false) => Ok(()),
        (Ok(Decoded::Records(r)), Some(n), false) => {
            let want = Counts {
                records: n,
                kms: row.kms,
                aws_service: row.aws_service,
                invoked_by: row.invoked_by,
                errors: row.errors.clone(),
            };
            let got = count(&r.records);
            (got == want)
                .then_some(())
                .ok_or(format!("got {got:?}\nwant {want:?}"))
        }
        (other, _, _) => Err(format!("unexpected decode result {other:?}")),
    }
}

#[test]
fn every_file_matches_sources_md() {
    let Some(dir) = shared("real-samples") else {
        return;
    };
    let md = std::fs::read_to_string(dir.join("SOURCES.md")).unwrap();
    let rows = rows(&md);
    assert_eq!(rows.len(), 135, "SOURCES.md lists 135 files");
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            check_file(&dir, r)
                .err()
                .map(|e| format!("{}: {e}", r.file))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let total: u64 = rows.iter().filter_map(|r| r.records).sum();
    assert_eq!(total, 5340, "SOURCES.md's summary total");
}

#[test]
fn whole_tree_reads_everything_and_names_the_failures() {
    let Some(dir) = shared("real-samples") else {
        return;
    };
    let (v, out) = analyze_json(&[dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "non-CloudTrail JSON files fail the run"
    );
    let failed: Vec<&str> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert!(
        failed
            .iter()
            .any(|f| f.ends_with("aws-kms-developer-guide/malformed-as-published.json"))
    );
    // Everything else that fails is one of the provenance files, which are not CloudTrail.
    for f in &failed {
        assert!(
            f.ends_with(".index.json") || f.ends_with("malformed-as-published.json"),
            "{f}"
        );
    }
    let stderr = crate::util::stderr(&out);
    assert!(
        stderr.contains("malformed-as-published.json`: not CloudTrail"),
        "{stderr}"
    );
    let i = &v["inputs"];
    assert_books(i);
    // Per file: each balances, and its record count is SOURCES.md's.
    let md = std::fs::read_to_string(dir.join("SOURCES.md")).unwrap();
    let rows = rows(&md);
    let per_file = v["inputs_per_file"].as_array().unwrap();
    assert_eq!(per_file.len() as u64, i["files_read"].as_u64().unwrap());
    let mut matched = 0;
    for f in per_file {
        assert_books(f);
        let source = f["source"].as_str().unwrap();
        if let Some(row) = rows
            .iter()
            .find(|r| source.ends_with(&format!("/{}", r.file)))
        {
            assert_eq!(f["records"].as_u64(), row.records, "{source}");
            matched += 1;
        }
    }
    let readable = rows
        .iter()
        .filter(|r| r.records.is_some() && !r.digest)
        .count();
    assert_eq!(
        matched, readable,
        "every readable file of SOURCES.md is booked"
    );
    // 5340 records in the sources, plus the derived selection (1606), all read.
    assert_eq!(i["records"], 5340 + 1606);
    // The two digest files and SOURCES.md are skipped, not failed.
    assert_eq!(i["files_skipped"], 3);
}
