//! End to end on a `gen_corpus.py` tree: the JSON groups must match the
//! generator's `truth.json` exactly.

use serde_json::{Value, json};

use crate::util::{analyze_json, assert_books, gen_corpus};

/// Sums a group field over the groups that `pick` selects.
fn sum(groups: &[Value], field: &str, pick: impl Fn(&Value) -> bool) -> u64 {
    groups
        .iter()
        .filter(|g| pick(g))
        .map(|g| g[field].as_u64().unwrap())
        .sum()
}

/// Log files under `dir` (`.json.gz`, digests left out), counted on disk.
fn logs_under(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                if p.ends_with("CloudTrail-Digest") {
                    0
                } else {
                    logs_under(&p)
                }
            } else {
                u64::from(p.to_string_lossy().ends_with(".json.gz"))
            }
        })
        .sum()
}

/// `type|invokedBy-or-arn`, the caller label truth.json uses.
fn truth_label(g: &Value) -> String {
    let c = &g["caller"];
    let who = c["invoked_by"]
        .as_str()
        .filter(|_| c["type"] == "AWSService");
    let who = who.or(c["principal_arn"].as_str()).unwrap_or("?");
    format!("{}|{who}", c["type"].as_str().unwrap_or("?"))
}

#[test]
fn groups_match_truth() {
    let Some((_dir, logs, truth)) = gen_corpus("20", "11", "400") else {
        return;
    };
    let (v, out) = analyze_json(&[logs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::stderr(&out));
    let i = &v["inputs"];
    assert_eq!(i["records"], truth["records"]);
    assert_eq!(i["kms_calls"], truth["kms_events"]);
    assert_eq!(i["files_read"], truth["log_files"]);
    assert_eq!(
        i["files_skipped"], truth["digest_files"],
        "digests are skipped"
    );
    assert_eq!(i["files_failed"], 0);
    let groups = v["groups"].as_array().unwrap();
    let vault = truth["policy_change"]["key"].as_str().unwrap();
    // Every denial on the vault key is a blocked caller of truth.json, with its count.
    for (label, events) in truth["blocked_by_key_policy"].as_object().unwrap() {
        for (event, denied) in events.as_object().unwrap() {
            let got = sum(groups, "denied", |g| {
                g["key_arn"] == vault && g["event_name"] == *event && truth_label(g) == *label
            });
            assert_eq!(got, denied.as_u64().unwrap(), "{label} {event}");
        }
    }
    let blocked_total: u64 = truth["blocked_by_key_policy"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|e| e.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        sum(groups, "denied", |g| g["key_arn"] == vault),
        blocked_total
    );
    // The administrator is unaffected.
    for label in truth["not_blocked"].as_object().unwrap().keys() {
        assert_eq!(
            sum(groups, "denied", |g| truth_label(g) == *label),
            0,
            "{label}"
        );
    }
    // The noise: identity-policy denials elsewhere, and the disabled key.
    let others = sum(groups, "denied", |g| g["key_arn"] != vault);
    assert_eq!(others, truth["identity_policy_denials"].as_u64().unwrap());
    assert_eq!(
        sum(groups, "key_state_failed", |_| true),
        truth["disabled_key_errors"].as_u64().unwrap()
    );
    // Per file: the books balance, and each file's record count is what an
    // independent reading (flate2 + serde_json::Value) finds in it.
    let per_file = v["inputs_per_file"].as_array().unwrap();
    // Counted on disk, not from the report.
    let on_disk = logs_under(&logs);
    assert!(on_disk > 0);
    assert_eq!(per_file.len() as u64, on_disk);
    assert_eq!(v["inputs"]["files_read"].as_u64().unwrap(), on_disk);
    for f in per_file {
        assert_books(f);
        let mut text = Vec::new();
        let file = std::fs::File::open(f["source"].as_str().unwrap()).unwrap();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(file), &mut text)
            .unwrap();
        let doc: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            f["records"].as_u64(),
            Some(doc["Records"].as_array().unwrap().len() as u64)
        );
    }
    // The diagnosis names exactly truth.json's blocked callers, by the right Sid.
    let mut named: Vec<String> = v["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["statement"]["sid"], truth["policy_change"]["sid"]);
            assert_eq!(b["key_arn"], vault);
            assert!(
                b["fixes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|f| f["verified"] == true),
                "{b}"
            );
            truth_label(&json!({"caller": b["caller"]}))
        })
        .collect();
    named.sort();
    let mut want: Vec<String> = truth["blocked_by_key_policy"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    want.sort();
    assert_eq!(named, want);
    // The blocked callers are flagged: they succeeded, then only failed.
    for g in groups
        .iter()
        .filter(|g| g["key_arn"] == vault && g["denied"].as_u64() > Some(0))
    {
        assert_eq!(g["contrast"]["kind"], "succeeded-then-failed", "{g}");
    }
}
