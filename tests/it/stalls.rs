//! A network that never answers never hangs a run: `cloudtrail://` and
//! `--fetch-policy` against a listener that accepts connections, reads the
//! requests and sends nothing. The run must end, by `--read-timeout` and
//! `--max-attempts`, with the call named and exit 1. (`s3://` has its own
//! test through the fault proxy, in `remote.rs`.)

use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::stderr;

/// Accepts every connection on a free port and holds it open without a
/// byte in answer; returns `http://127.0.0.1:PORT`. The thread ends with
/// the test binary.
fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || drain(conn));
        }
    });
    url
}

/// Reads what the client sends until it gives up, answering nothing.
fn drain(mut conn: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
}

/// `denydiff ARGS` with fake credentials, the short timeouts, and the
/// silent endpoint; returns the output and how long it took. A run still
/// going after a minute is killed and fails the test: a hang must not
/// stall the test suite too.
fn against_silence(args: &[&str]) -> (Output, Duration) {
    let endpoint = silent_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_denydiff"))
        .args(args)
        .args(["--format", "json", "--endpoint-url", &endpoint])
        .args(["--read-timeout", "1", "--attempt-timeout", "2"])
        .args(["--max-attempts", "2"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/denydiff-test-config")
        .env("AWS_REGION", "eu-west-1")
        .env_remove("AWS_PROFILE")
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > Duration::from_mins(1) {
            let _ = child.kill();
            panic!("{args:?} still runs after a minute: the run hangs");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = t.elapsed();
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, took)
}

fn failures(out: &Output) -> Vec<(String, String)> {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr: {}", stderr(out)));
    v["failures"]
        .as_array()
        .expect("failures listed")
        .iter()
        .map(|f| {
            (
                f["source"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn lookup_events_that_never_answer_end_the_run_in_time() {
    let (out, took) = against_silence(&["analyze", "cloudtrail://eu-west-1"]);
    // Two attempts of at most 2 s each, plus backoff: far below this.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (source, reason) = &failed[0];
    assert!(source.contains("eu-west-1"), "{source}");
    assert!(
        reason.contains("hint: AWS did not answer in time"),
        "{reason}"
    );
}

#[test]
fn get_key_policy_that_never_answers_ends_the_run_in_time() {
    let logs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs/incident-2026-11-backup-vault/AWSLogs");
    let (out, took) = against_silence(&["analyze", "--fetch-policy", logs.to_str().unwrap()]);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failed = failures(&out);
    assert!(!failed.is_empty(), "a failure is listed");
    for (source, reason) in &failed {
        assert!(
            source.starts_with("kms:GetKeyPolicy arn:aws:kms:"),
            "{source}"
        );
        assert!(
            reason.contains("hint: AWS did not answer in time"),
            "{source}: {reason}"
        );
    }
    // The trail's own analysis still stands.
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["inputs"]["kms_calls"].as_u64().unwrap() > 0);
}
