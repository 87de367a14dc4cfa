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
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(
        v["inputs"]["duplicates_dropped"],
        v["inputs"]["records"].as_u64().unwrap() / 2
    );
    if let Some(samples) = shared("real-samples") {
        let s = samples.to_str().unwrap();
        assert_eq!(report("1", s), report("3", s), "real samples");
    }
}
