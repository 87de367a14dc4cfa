//! Remote sources with the real SDK clients: `s3://` against moto (started
//! by `.ci/run`), directly or through the proxies in `tests/servers/` (a
//! bucket's region, injected faults), and `cloudtrail://` against the
//! LookupEvents test server in `tests/servers/lookup_events.py` (started
//! here). Each must give the same analysis as the same events read from
//! files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{analyze_json, gen_corpus, moto, stderr};

/// Runs the binary with fake credentials (moto and the test server accept any).
fn denydiff(args: &[&str]) -> std::process::Output {
    denydiff_in(Some("us-east-1"), args)
}

/// [`denydiff`] with `AWS_REGION` set to `region`, or no region anywhere.
fn denydiff_in(region: Option<&str>, args: &[&str]) -> std::process::Output {
    command_in(region, args).output().unwrap()
}

/// The command [`denydiff_in`] runs.
fn command_in(region: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_denydiff"));
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/denydiff-test-config")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE");
    match region {
        Some(r) => cmd.env("AWS_REGION", r),
        None => cmd.env_remove("AWS_REGION"),
    };
    cmd
}

/// `analyze --format json --endpoint-url ENDPOINT`, then `args`.
fn analyze_remote(endpoint: &str, args: &[&str]) -> std::process::Output {
    analyze_remote_in(Some("us-east-1"), endpoint, args)
}

/// [`analyze_remote`] with `AWS_REGION` set to `region`, or no region anywhere.
fn analyze_remote_in(region: Option<&str>, endpoint: &str, args: &[&str]) -> std::process::Output {
    denydiff_in(
        region,
        &[
            &["analyze", "--format", "json", "--endpoint-url", endpoint][..],
            args,
        ]
        .concat(),
    )
}

/// A remote run that succeeded and found what the same files give locally.
fn assert_like_local(remote: &std::process::Output, logs: &Path) {
    assert_eq!(remote.status.code(), Some(0), "{}", stderr(remote));
    let (local, _) = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(essence(&json_of(remote)), essence(&local));
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Uploads every file under `root` to `s3://bucket/prefix/<relative path>`.
fn upload(endpoint: &str, bucket: &str, prefix: &str, root: &Path) {
    upload_in("us-east-1", endpoint, bucket, prefix, root);
}

/// [`upload`] to a bucket created in `region`.
fn upload_in(region: &str, endpoint: &str, bucket: &str, prefix: &str, root: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .credentials_provider(creds)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(conf);
        let mut create = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(region.into())
                    .build(),
            );
        }
        create.send().await.expect("CreateBucket on moto");
        for f in files(root) {
            let rel = f
                .strip_prefix(root.parent().unwrap())
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let body = aws_sdk_s3::primitives::ByteStream::from(std::fs::read(&f).unwrap());
            s3.put_object()
                .bucket(bucket)
                .key(format!("{prefix}/{rel}"))
                .body(body)
                .send()
                .await
                .unwrap();
        }
    });
}

fn corpus() -> Option<(tempfile::TempDir, PathBuf)> {
    gen_corpus("3", "5", "100").map(|(dir, logs, _)| (dir, logs))
}

/// The parts of a report that must not depend on where the events came from.
fn essence(v: &Value) -> Value {
    let mut inputs = v["inputs"].clone();
    inputs.as_object_mut().unwrap().remove("files_skipped");
    serde_json::json!({"inputs": inputs, "groups": v["groups"], "blocked": v["blocked"],
                       "verdicts": v["verdicts"], "timeline": v["timeline"], "failures": v["failures"]})
}

#[test]
fn s3_export_gives_the_local_analysis_and_prunes_by_day() {
    let Some(endpoint) = moto() else { return };
    let Some((_dir, logs)) = corpus() else { return };
    let bucket = format!("trail-{}", std::process::id());
    upload(&endpoint, &bucket, "org", &logs);
    let url = format!("s3://{bucket}/org");
    assert_like_local(&analyze_remote(&endpoint, &[&url]), &logs);

    // A one-day window lists that day's prefixes only (per region), never the others.
    let window = [
        "--since",
        "2026-11-21T00:00:00Z",
        "--until",
        "2026-11-21T23:59:59Z",
    ];
    let day = analyze_remote(&endpoint, &[&["-v"][..], &window, &[&url]].concat());
    assert_eq!(day.status.code(), Some(0), "{}", stderr(&day));
    let listed: Vec<String> = stderr(&day)
        .lines()
        .filter_map(|l| l.strip_prefix("denydiff: listing "))
        .map(str::to_owned)
        .collect();
    let days: Vec<&String> = listed
        .iter()
        .filter(|l| l.matches('/').count() > 8)
        .collect();
    assert!(!days.is_empty(), "{listed:?}");
    assert!(
        days.iter().all(|l| l.ends_with("/2026/11/21/")),
        "{listed:?}"
    );
    assert!(
        listed.iter().all(|l| !l.contains("CloudTrail-Digest")),
        "{listed:?}"
    );
    let (local_day, _) = analyze_json(&[&window[..], &[logs.to_str().unwrap()]].concat());
    let remote_day = json_of(&day);
    assert_eq!(remote_day["groups"], local_day["groups"]);
    assert!(
        remote_day["inputs"]["files_read"].as_u64().unwrap()
            < local_day["inputs"]["files_read"].as_u64().unwrap(),
        "fewer objects read than files walked"
    );
}

/// A bucket in another region than the one the client starts from (the
/// runs' `AWS_REGION`, us-east-1). S3 refuses a listing signed for the wrong
/// region with a 301 (`tests/servers/s3_region.py` answers so in front of
/// moto, which serves every region alike), and the SDK does not follow it:
/// the bucket's region must be found first.
#[test]
fn s3_bucket_in_another_region_is_read_from_its_own() {
    let Some(moto) = moto() else { return };
    let Some((_dir, logs)) = corpus() else { return };
    let proxy = Server::run("s3_region.py", &["--upstream", &moto]);
    let bucket = format!("trail-eu-{}", std::process::id());
    upload_in("eu-west-1", &proxy.1, &bucket, "org", &logs);
    let url = format!("s3://{bucket}/org");
    assert_like_local(&analyze_remote(&proxy.1, &[&url]), &logs);
    // With no region configured at all, the bucket's region is still found.
    assert_like_local(&analyze_remote_in(None, &proxy.1, &[&url]), &logs);
}

#[test]
fn s3_errors_name_the_object_and_fetch_resumes() {
    let Some(endpoint) = moto() else { return };
    let Some((dir, logs)) = corpus() else { return };
    // A corrupt object among good ones.
    let bad = logs.join("111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T0000Z_BROKEN0000000000.json.gz");
    std::fs::write(&bad, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]).unwrap();
    let bucket = format!("resume-{}", std::process::id());
    upload(&endpoint, &bucket, "t", &logs);
    let url = format!("s3://{bucket}/t/");
    let out = analyze_remote(&endpoint, &[&url]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(
        v["failures"][0]["source"],
        format!(
            "s3://{bucket}/t/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_20261120T0000Z_BROKEN0000000000.json.gz"
        )
    );
    assert!(
        v["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("gzip:"),
        "{}",
        v["failures"]
    );
    assert!(
        v["inputs"]["kms_calls"].as_u64() > Some(0),
        "the rest is analysed"
    );

    // fetch writes what analyze reads; a resumed fetch fetches nothing twice.
    std::fs::remove_file(&bad).unwrap();
    let file = dir.path().join("fetched.json.gz");
    let f = file.to_str().unwrap();
    let first = denydiff(&[
        "fetch",
        "--quiet",
        "--endpoint-url",
        &endpoint,
        "-o",
        f,
        &url,
    ]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "the corrupt object fails the fetch: {}",
        stderr(&first)
    );
    let state_path = format!("{f}.state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let done = state["s3_done"].as_array().unwrap().len();
    assert!(done > 10);
    // Forget half of what was done, as if interrupted: resume fetches exactly that half.
    let keep: Vec<Value> = state["s3_done"].as_array().unwrap()[..done / 2].to_vec();
    state["s3_done"] = Value::Array(keep);
    std::fs::write(&state_path, state.to_string()).unwrap();
    let again = denydiff(&[
        "fetch",
        "--resume",
        "--quiet",
        "--endpoint-url",
        &endpoint,
        "-o",
        f,
        &url,
    ]);
    let said = stderr(&again);
    let fetched: usize = said
        .split("fetched ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(fetched, done - done / 2, "{said}");
    let (from_file, _) = analyze_json(&[f]);
    let (local, _) = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(
        from_file["groups"], local["groups"],
        "the fetched file analyses like the tree"
    );
    assert!(
        from_file["inputs"]["duplicates_dropped"].as_u64() > Some(0),
        "the resumed half was written twice and deduplicated"
    );
    // A fresh fetch (no --resume) forgets an earlier run's state, even when
    // it saves nothing itself: a later --resume must not skip what this file
    // never received.
    let empty = format!("s3://{bucket}/nothing-here/");
    let fresh = denydiff(&[
        "fetch",
        "--quiet",
        "--endpoint-url",
        &endpoint,
        "-o",
        f,
        &empty,
    ]);
    assert_eq!(fresh.status.code(), Some(0), "{}", stderr(&fresh));
    assert!(
        !std::path::Path::new(&state_path).exists(),
        "the old state outlived a fresh fetch"
    );
}

/// Every fault kind of `tests/servers/s3_faults.py` at 5% of requests each.
const FAULTS: [&str; 12] = [
    "--fault",
    "503=0.05",
    "--fault",
    "500=0.05",
    "--fault",
    "reset=0.05",
    "--fault",
    "truncate=0.05",
    "--fault",
    "stall=0.05",
    "--fault",
    "stall-body=0.05",
];

/// What the fault proxy says it served, by kind.
fn faults_served(proxy: &str) -> Value {
    use std::io::{Read, Write};
    let addr = proxy.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!("GET /__faults HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// Through 5% of each fault (503, 500, reset, cut body, stall, stalled
/// body; about 30% of requests), `analyze s3://` of a 10 MB tree in 2,290
/// objects gives the local analysis in under two minutes, and so does a
/// `fetch` killed with SIGKILL a second into its objects, then resumed.
#[test]
fn s3_through_faults_gives_the_local_analysis_and_fetch_survives_a_kill() {
    let Some(moto) = moto() else { return };
    let Some((dir, logs, _)) = gen_corpus("10", "7", "60") else {
        return;
    };
    let bucket = format!("faults-{}", std::process::id());
    upload(&moto, &bucket, "org", &logs);
    let proxy = Server::run(
        "s3_faults.py",
        &[
            &["--upstream", &moto, "--seed", "1", "--stall-seconds", "30"][..],
            &FAULTS,
        ]
        .concat(),
    );
    let url = format!("s3://{bucket}/org");
    let fast = ["--read-timeout", "2"];
    let t = Instant::now();
    let out = analyze_remote(&proxy.1, &[&fast[..], &[&url]].concat());
    let took = t.elapsed();
    eprintln!("analyze through faults: {took:?}");
    assert_like_local(&out, &logs);
    assert!(took < Duration::from_mins(2), "analyze took {took:?}");
    let served = faults_served(&proxy.1);
    for kind in ["503", "500", "reset", "truncate", "stall", "stall-body"] {
        assert!(served[kind].as_u64() > Some(10), "{kind}: {served}");
    }

    let file = dir.path().join("fetched.json.gz");
    let f = file.to_str().unwrap();
    let state = format!("{f}.state.json");
    let fetch = |extra: &[&str]| {
        let args = [
            &["fetch", "--quiet", "--endpoint-url", &proxy.1, "-o", f][..],
            &fast,
            extra,
            &[&url],
        ];
        command_in(Some("us-east-1"), &args.concat())
    };
    let t = Instant::now();
    let mut first = fetch(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !Path::new(&state).exists() {
        assert!(
            t.elapsed() < Duration::from_mins(1),
            "no object written in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let again = fetch(&["--resume"]).output().unwrap();
    let took = t.elapsed();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        took < Duration::from_mins(2),
        "fetch and resume took {took:?}"
    );
    let (from_file, read) = analyze_json(&[f]);
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
    let (local, _) = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(from_file["groups"], local["groups"]);
    assert_eq!(
        from_file["inputs"]["kms_calls"],
        local["inputs"]["kms_calls"]
    );
}

/// A fetch killed while writing leaves half a gzip member; `--resume` cuts
/// it off instead of appending after it.
#[test]
fn fetch_resume_cuts_off_a_half_written_item() {
    let Some(endpoint) = moto() else { return };
    let Some((dir, logs)) = corpus() else { return };
    let bucket = format!("cut-{}", std::process::id());
    upload(&endpoint, &bucket, "t", &logs);
    let url = format!("s3://{bucket}/t/");
    let file = dir.path().join("fetched.json.gz");
    let f = file.to_str().unwrap();
    let fetch = |extra: &[&str]| {
        denydiff(
            &[
                &["fetch", "--quiet", "--endpoint-url", &endpoint, "-o", f][..],
                extra,
                &[&url],
            ]
            .concat(),
        )
    };
    assert_eq!(fetch(&[]).status.code(), Some(0));
    // As if killed while writing an item not yet marked done: half a member.
    let state_path = format!("{f}.state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let done = state["s3_done"].as_array().unwrap().clone();
    state["s3_done"] = Value::Array(done[..done.len() - 1].to_vec());
    std::fs::write(&state_path, state.to_string()).unwrap();
    let half = crate::util::gzip(b"{\"eventVersion\":\"1.08\"}\n");
    let mut bytes = std::fs::read(f).unwrap();
    bytes.extend_from_slice(&half[..half.len() / 2]);
    std::fs::write(f, bytes).unwrap();

    let again = fetch(&["--resume"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let (v, read) = analyze_json(&[f]);
    assert_eq!(
        read.status.code(),
        Some(0),
        "the file reads whole: {}",
        stderr(&read)
    );
    let (local, _) = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(v["groups"], local["groups"]);
}

/// `--region`, `--account` or a window that selects nothing of a tree with
/// logs is an error naming what the tree holds, never an empty report.
#[test]
fn s3_filters_that_select_nothing_say_what_is_there() {
    let Some(endpoint) = moto() else { return };
    let Some((_dir, logs)) = corpus() else { return };
    let bucket = format!("none-{}", std::process::id());
    upload(&endpoint, &bucket, "org", &logs);
    let url = format!("s3://{bucket}/org/");
    let names = |dir: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("`{}`", e.unwrap().file_name().to_str().unwrap()))
            .collect();
        v.sort();
        v.join(", ")
    };
    let account = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let regions = names(&account.join("CloudTrail"));
    let cases = [
        (
            vec!["--region", "eu-west-1"],
            format!("`--region eu-west-1` matches none of the regions there: {regions}"),
        ),
        (
            vec!["--account", "999999999999"],
            format!(
                "`--account 999999999999` matches none of the accounts there: {}",
                names(&logs)
            ),
        ),
        (
            vec!["--since", "2030-01-01", "--until", "2030-01-02"],
            "the logs run from `2026-11-20` to `2026-11-23`".to_owned(),
        ),
    ];
    for (args, says) in cases {
        let out = analyze_remote(&endpoint, &[&args[..], &[&url]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("nothing to read: "), "{args:?}: {err}");
        assert!(err.contains(&says), "{args:?}: {err}");
        assert!(err.contains("\nhint: "), "{args:?}: {err}");
        assert_eq!(json_of(&out)["failures"][0]["source"], url, "{args:?}");
    }
    // A region that is there reads without complaint.
    let out = analyze_remote(&endpoint, &["--region", "us-east-1", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A server that accepts every request and never answers ends the run, by
/// the timeouts, with the call named: exit 1, not a hang.
#[test]
fn a_server_that_never_answers_fails_the_run_in_time() {
    let Some(moto) = moto() else { return };
    let proxy = Server::run("s3_faults.py", &["--upstream", &moto, "--fault", "stall=1"]);
    let t = Instant::now();
    let out = analyze_remote(
        &proxy.1,
        &[
            "--read-timeout",
            "1",
            "--max-attempts",
            "2",
            "s3://silent/org/",
        ],
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reason = json_of(&out)["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.starts_with("s3:ListObjectsV2 failed"), "{reason}");
    assert!(
        reason.contains("hint: AWS did not answer in time"),
        "{reason}"
    );
}

/// A test server on a free port (the LookupEvents server, or the S3 region
/// proxy); killed on drop.
struct Server(Child, String);

impl Server {
    fn start(extra: &[&str]) -> Self {
        let events = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-logs/incident-2026-11-backup-vault/AWSLogs");
        Self::run(
            "lookup_events.py",
            &[&["--events", events.to_str().unwrap()][..], extra].concat(),
        )
    }

    /// `tests/servers/SCRIPT --port 0 ARGS...`, once it says where it listens.
    fn run(script: &str, args: &[&str]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/servers")
            .join(script);
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("server says where")
            .to_owned();
        Server(child, url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sample_local() -> Value {
    let logs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-logs/incident-2026-11-backup-vault/AWSLogs");
    analyze_json(&[logs.to_str().unwrap()]).0
}

#[test]
fn lookup_events_gives_the_local_analysis_exactly_once_through_faults() {
    let local = sample_local();
    let kms = local["inputs"]["kms_calls"].clone();
    for faults in [&[][..], &["--fail-every", "3", "--drop-every", "4"][..]] {
        let server = Server::start(faults);
        let out = analyze_remote(&server.1, &["cloudtrail://eu-west-1"]);
        assert_eq!(out.status.code(), Some(0), "{faults:?}: {}", stderr(&out));
        let v = json_of(&out);
        assert_eq!(
            v["inputs"]["records"], kms,
            "every KMS event once, {faults:?}"
        );
        assert_eq!(
            v["inputs"]["duplicates_dropped"], 0,
            "no page twice, {faults:?}"
        );
        assert_eq!(v["groups"], local["groups"], "{faults:?}");
        assert_eq!(v["blocked"], local["blocked"], "{faults:?}");
    }
    // `--lookup` alone, no PATH: the same source (README, `--help`).
    let server = Server::start(&[]);
    let out = analyze_remote(&server.1, &["--lookup", "--region", "eu-west-1"]);
    assert_eq!(out.status.code(), Some(0), "--lookup: {}", stderr(&out));
    assert_eq!(json_of(&out)["groups"], local["groups"], "--lookup");
}

#[test]
fn lookup_by_key_uses_resource_name_and_fetch_writes_a_readable_file() {
    let server = Server::start(&[]);
    let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lookup.json.gz");
    let out = denydiff(&[
        "fetch",
        "--quiet",
        "--endpoint-url",
        &server.1,
        "--key",
        key,
        "-o",
        file.to_str().unwrap(),
        "cloudtrail://eu-west-1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (v, _) = analyze_json(&[file.to_str().unwrap()]);
    assert!(!v["groups"].as_array().unwrap().is_empty(), "no groups");
    assert!(
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["key_arn"] == key)
    );
    let local = sample_local();
    let want: Vec<&Value> = local["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["key_arn"] == key)
        .collect();
    assert_eq!(
        v["groups"].as_array().unwrap().iter().collect::<Vec<_>>(),
        want
    );
    // Resuming a finished fetch fetches nothing.
    let again = denydiff(&[
        "fetch",
        "--resume",
        "--endpoint-url",
        &server.1,
        "--key",
        key,
        "-o",
        file.to_str().unwrap(),
        "cloudtrail://eu-west-1",
    ]);
    assert!(
        stderr(&again).contains("fetched 0 items"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn aws_errors_name_the_call_and_give_a_hint() {
    // Nothing listens on this port: the call fails, the report says so, exit 1.
    let out = denydiff(&[
        "analyze",
        "--format",
        "json",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "cloudtrail://eu-west-1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let reason = v["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("cloudtrail:LookupEvents failed"),
        "{reason}"
    );
    assert!(reason.contains("hint: "), "{reason}");
}

/// `--export-calls` from LookupEvents writes the same table as from files:
/// read back, it gives the analysis of the remote run.
#[test]
fn lookup_events_export_to_a_table_and_back() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lookup.parquet");
    let out = analyze_remote(
        &server.1,
        &[
            "cloudtrail://eu-west-1",
            "--export-calls",
            table.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let direct = json_of(&out);
    let (back, again) = analyze_json(&[table.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    crate::reduced_table::assert_same_analysis(&back, &direct);
}
