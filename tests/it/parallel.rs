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
    Command::new("cp")
        .args(["-r", logs.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
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
    // The copies of the analysed records (KMS and CloudTrail's own) are
    // the duplicates; every other record is counted twice.
    let cloudtrail = n(&v, "duplicates_dropped") - n(&single, "kms_calls");
    assert_eq!(n(&v, "non_kms"), 2 * n(&single, "non_kms") - cloudtrail);
    if let Some(samples) = shared("real-samples") {
        let s = samples.to_str().unwrap();
        assert_eq!(report("1", s), report("3", s), "real samples");
    }
}
