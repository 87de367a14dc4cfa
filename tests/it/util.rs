//! Shared helpers: run the real binary, locate `../shared`, write fixtures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `denydiff` with `args`, feeding `stdin`.
pub(crate) fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_denydiff"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("denydiff runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `denydiff analyze --format json` and decodes the report.
pub(crate) fn analyze_json(args: &[&str]) -> (serde_json::Value, Output) {
    let mut all = vec!["analyze", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all, b"");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out)
}

/// `../shared` beside the checkout, or `None` (test skips) outside CI.
pub(crate) fn shared(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(sub);
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "`{}` is missing: CI must have ../shared beside the checkout",
        dir.display()
    );
    eprintln!("skipping: `{}` is missing", dir.display());
    None
}

/// Writes `bytes` to `dir/name` (parents made); returns the path.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A `gen_corpus.py` tree in a tempdir: `(dir, dir/AWSLogs, truth.json)`,
/// or `None` (test skips) outside CI when `../shared` is missing.
pub(crate) fn gen_corpus(
    mb: &str,
    seed: &str,
    per_file: &str,
) -> Option<(tempfile::TempDir, PathBuf, serde_json::Value)> {
    let script = shared("bench/gen_corpus.py")?;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .args([
            "--out",
            dir.path().to_str().unwrap(),
            "--mb",
            mb,
            "--seed",
            seed,
            "--per-file",
            per_file,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    let logs = dir.path().join("AWSLogs");
    Some((dir, logs, truth))
}

/// The moto endpoint `.ci/run` exports, or `None` (test skips) outside CI.
pub(crate) fn moto() -> Option<String> {
    if let Ok(url) = std::env::var("DENYDIFF_MOTO_ENDPOINT") {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "DENYDIFF_MOTO_ENDPOINT is not set: .ci/run must start moto"
    );
    eprintln!("skipping: DENYDIFF_MOTO_ENDPOINT is not set (start `moto_server` and set it)");
    None
}

/// Asserts that a books object (`inputs`, or an `inputs_per_file` entry) balances.
pub(crate) fn assert_books(b: &serde_json::Value) {
    let parts: u64 = [
        "records_invalid",
        "duplicates_dropped",
        "non_kms",
        "outside_filters",
        "kms_calls",
    ]
    .iter()
    .map(|k| b[k].as_u64().unwrap())
    .sum();
    assert_eq!(
        b["records"].as_u64().unwrap(),
        parts,
        "the books balance: {b}"
    );
}
