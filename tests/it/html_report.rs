//! `--format html`: the page escapes what comes from the logs, stays small
//! with many callers, and renders in a real browser (chromium headless,
//! found through `DENYDIFF_CHROMIUM`, which `.ci/run` exports): no console
//! message at all (the page's Content-Security-Policy makes any script or
//! request a console message, so none means none was attempted), and the
//! DOM holds the causes, the blocked callers, the fix and one chart series
//! per caller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::redact::{decrypt_then_denied, deny_added};
use crate::util::{analyze_json, run, stdout};
use crate::verdicts::ACCT;

/// The chromium binary, or `None` (test skips) outside CI.
fn chromium() -> Option<String> {
    if let Ok(path) = std::env::var("DENYDIFF_CHROMIUM") {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "DENYDIFF_CHROMIUM is not set: .ci/run must install chromium and export it"
    );
    eprintln!("skipping: DENYDIFF_CHROMIUM is not set (e.g. `/usr/bin/chromium`)");
    None
}

/// Opens `page` headless: the serialised DOM, and the console lines of
/// chromium's log.
fn open(chromium: &str, page: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

fn sample() -> [String; 2] {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs/incident-2026-11-backup-vault");
    [
        dir.join("AWSLogs").display().to_string(),
        dir.join("lookup-events-kms.json").display().to_string(),
    ]
}

/// The number of chart series per key, as the JSON's buckets have them.
fn callers_per_key(v: &Value) -> BTreeMap<String, usize> {
    let mut per: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in v["buckets"].as_array().unwrap() {
        per.entry(s["key_arn"].as_str().unwrap().to_owned())
            .or_default()
            .insert(s["caller"].to_string());
    }
    per.into_iter().map(|(k, c)| (k, c.len())).collect()
}

/// The `class="series"` groups of each chart, in page order.
fn series_per_chart(html: &str) -> Vec<usize> {
    html.split("<svg")
        .skip(1)
        .map(|svg| {
            let svg = svg.split("</svg>").next().unwrap();
            svg.matches("class=\"series").count()
        })
        .collect()
}

#[test]
fn the_sample_renders_in_chromium_with_the_answer_and_one_series_per_caller() {
    let [logs, lookup] = sample();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = run(
        &["analyze", &logs, &lookup, "-o", page.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "`-o *.html` writes HTML"
    );
    let (v, _) = analyze_json(&[&logs, &lookup]);
    let mut want: Vec<usize> = callers_per_key(&v).into_values().collect();
    let mut got = series_per_chart(&html);
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "one series per caller of each key");
    // Self-contained: nothing to fetch, nothing to run.
    for banned in ["<script", "http://", "https://", "@import", "url("] {
        let found = html.contains(banned) && !(banned == "http://" && only_svg_ns(&html));
        assert!(!found, "the page holds `{banned}`");
    }
    let Some(chromium) = chromium() else {
        return;
    };
    let (dom, console) = open(&chromium, &page);
    assert!(console.is_empty(), "console messages: {console:#?}");
    for want in [
        "cause-1",
        "cause-2",
        "ONGOING",
        // The blocked callers, with full ARNs.
        "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole",
        "backup-storage.amazonaws.com",
        "arn:aws:iam::111122223333:role/vault-restore-check-role",
        "arn:aws:iam::111122223333:role/app-server",
        // The fix, its diff and the full policy.
        "fix-2",
        "StringNotEqualsIfExists",
        "class=\"add\"",
        "The full patched policy",
    ] {
        assert!(dom.contains(want), "`{want}` is not in the DOM");
    }
    assert_eq!(series_per_chart(&dom), series_per_chart(&html));
}

/// `http://` only in the SVG namespace declaration.
fn only_svg_ns(html: &str) -> bool {
    html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
}

/// A SYNTHETIC denial (record shapes from ../shared/real-samples): a role
/// named like markup calls with an encryption context that is markup, and
/// a Deny on that context blocks it.
fn markup_trail(dir: &Path) -> String {
    let evil_role = "<script>alert(1)</script>";
    let evil_context = "<script>alert(2)</script><img src=x onerror=alert(3)>";
    let deny = json!({"Sid": "Tenant <b>only</b>", "Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "t-1"}}});
    let who = json!({"type": "AssumedRole",
        "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{evil_role}/s"), "accountId": ACCT,
        "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": format!("arn:aws:iam::{ACCT}:role/{evil_role}")}}});
    let mut t = deny_added(&deny);
    let msg = format!("User: arn:aws:sts::{ACCT}:assumed-role/{evil_role}/s is not authorized");
    decrypt_then_denied(&mut t, &who, &json!({"tenant": evil_context}), &msg);
    let file = dir.join("synthetic-markup.json");
    std::fs::write(&file, json!({"Records": t.records}).to_string()).unwrap();
    file.display().to_string()
}

#[test]
fn markup_from_the_logs_renders_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let trail = markup_trail(dir.path());
    let html = stdout(&run(&["analyze", "--format", "html", &trail], b""));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the role name is shown, escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert(2)"),
        "the context value is shown, escaped"
    );
    assert!(
        html.contains("Tenant &lt;b&gt;only&lt;/b&gt;"),
        "the Sid is shown, escaped"
    );
    for raw in ["<script", "<img", "<b>only"] {
        assert!(!html.contains(raw), "`{raw}` is in the page unescaped");
    }
    let Some(chromium) = chromium() else {
        return;
    };
    let page = dir.path().join("markup.html");
    std::fs::write(&page, &html).unwrap();
    let (dom, console) = open(&chromium, &page);
    assert!(console.is_empty(), "console messages: {console:#?}");
    // In the DOM the names are text (serialised escaped), never elements.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(dom.contains("&lt;script&gt;alert(2)&lt;/script&gt;&lt;img"));
    assert!(!dom.contains("<script"), "a script element is in the DOM");
    assert!(!dom.contains("<img"), "an img element is in the DOM");
}

#[test]
fn many_callers_share_one_lane_and_the_caption_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-blast.py");
    let made = Command::new("python3")
        .arg(script)
        .args(["--roles", "300"])
        .arg(dir.path())
        .output();
    match made {
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: python3 not found ({e})");
            return;
        }
        Err(e) => panic!("python3 is needed under CI: {e}"),
    }
    let logs = dir.path().join("logs").display().to_string();
    let html = stdout(&run(&["analyze", "--format", "html", &logs], b""));
    let (v, _) = analyze_json(&[&logs]);
    let callers = callers_per_key(&v).into_values().max().unwrap();
    assert!(callers > 300, "{callers} callers");
    // 12 lanes of their own, and one for the rest.
    assert_eq!(series_per_chart(&html), vec![13]);
    assert_eq!(html.matches("class=\"series others\"").count(), 1);
    let rest = format!("the other {} callers are summed", callers - 12);
    assert!(html.contains(&rest), "the caption does not say `{rest}`");
    assert!(
        html.contains("... and 201 more (all in"),
        "the blocked list is cut at 100"
    );
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
}
