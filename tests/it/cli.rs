//! The real binary on small fixtures: each format, the filters, and the
//! exit codes and messages for bad input.

use serde_json::Value;

use crate::util::{analyze_json, gzip, run, stderr, stdout, write};

const VAULT: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn record(id: u32, t: &str, who: &str, name: &str, error: Option<&str>) -> String {
    let identity = if who.ends_with(".amazonaws.com") {
        format!(r#"{{"type": "AWSService", "invokedBy": "{who}"}}"#)
    } else {
        format!(r#"{{"type": "IAMUser", "arn": "{who}", "accountId": "111122223333"}}"#)
    };
    let error = error.map_or(String::new(), |e| {
        format!(r#""errorCode": "AccessDenied", "errorMessage": "{e}","#)
    });
    format!(
        r#"{{"eventVersion": "1.09", "eventID": "00000000-0000-4000-8000-{id:012}", "eventTime": "{t}",
        "eventSource": "kms.amazonaws.com", "eventName": "{name}", "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333", {error} "userIdentity": {identity},
        "requestParameters": {{"keyId": "{VAULT}"}},
        "resources": [{{"type": "AWS::KMS::Key", "ARN": "{VAULT}"}}]}}"#
    )
    .replace('\n', " ")
}

/// A small incident: backup-storage succeeds twice, then is denied once.
fn incident() -> Vec<String> {
    let svc = "backup-storage.amazonaws.com";
    vec![
        record(1, "2026-11-10T01:00:00Z", svc, "Decrypt", None),
        record(2, "2026-11-10T02:00:00Z", svc, "Decrypt", None),
        record(
            3,
            "2026-11-11T01:00:00Z",
            svc,
            "Decrypt",
            Some("explicit deny in a resource-based policy"),
        ),
        record(
            4,
            "2026-11-11T02:00:00Z",
            "arn:aws:iam::111122223333:user/admin",
            "DescribeKey",
            None,
        ),
    ]
}

fn envelope(records: &[String]) -> String {
    format!(r#"{{"Records": [{}]}}"#, records.join(","))
}

fn group<'a>(v: &'a Value, who: &str, event: &str) -> &'a Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["event_name"] == event
                && (g["caller"]["invoked_by"] == who || g["caller"]["principal_arn"] == who)
        })
        .unwrap_or_else(|| panic!("no group {who} {event} in {v}"))
}

#[test]
fn json_report_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.json.gz",
        &gzip(envelope(&incident()).as_bytes()),
    );
    let (v, out) = analyze_json(&[&f]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(v["schema_version"], 2);
    for k in [
        "files_read",
        "files_skipped",
        "files_failed",
        "records",
        "duplicates_dropped",
        "kms_calls",
    ] {
        assert!(v["inputs"][k].is_u64(), "inputs.{k}");
    }
    let g = group(&v, "backup-storage.amazonaws.com", "Decrypt");
    assert_eq!(g["key_arn"], VAULT);
    assert_eq!(g["caller"]["class"], "service-principal");
    assert_eq!(g["caller"]["type"], "AWSService");
    assert_eq!(g["caller"]["principal_arn"], Value::Null);
    assert_eq!(
        (g["succeeded"].as_u64(), g["denied"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (g["key_state_failed"].as_u64(), g["other_failed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(g["first_seen"], "2026-11-10T01:00:00Z");
    assert_eq!(g["last_seen"], "2026-11-11T01:00:00Z");
    assert_eq!(g["contrast"]["kind"], "succeeded-then-failed");
    assert_eq!(
        g["denied_messages"][0],
        "explicit deny in a resource-based policy"
    );
    assert_eq!(
        g["sample_event_ids"][0],
        "00000000-0000-4000-8000-000000000003"
    );
}

#[test]
fn table_and_markdown_show_the_contrast() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.json", envelope(&incident()).as_bytes());
    let table = run(&["analyze", "--format", "table", &f], b"");
    let t = stdout(&table);
    assert!(t.contains(&format!("== Key {VAULT}")), "{t}");
    assert!(
        t.contains("service-principal backup-storage.amazonaws.com"),
        "{t}"
    );
    assert!(t.contains("FAILING since 11-11 01:00Z"), "{t}");
    assert!(
        t.contains("1 files read, 0 skipped, 0 failed; 4 records"),
        "{t}"
    );
    let md = stdout(&run(&["analyze", "--format", "markdown", &f], b""));
    assert!(md.starts_with("# denydiff report"), "{md}");
    assert!(md.contains(&format!("## Key `{VAULT}`")), "{md}");
    assert!(md.contains("| caller"), "{md}");
    assert!(
        md.contains("> explicit deny in a resource-based policy"),
        "{md}"
    );
}

#[test]
fn every_input_shape_gives_the_same_groups() {
    let recs = incident();
    let lookup_item =
        |r: &String| serde_json::json!({"EventId": "x", "CloudTrailEvent": r}).to_string();
    let shapes: Vec<(&str, Vec<u8>)> = vec![
        ("envelope.json", envelope(&recs).into_bytes()),
        ("envelope.json.gz", gzip(envelope(&recs).as_bytes())),
        ("array.json", format!("[{}]", recs.join(",")).into_bytes()),
        ("lines.ndjson", recs.join("\n").into_bytes()),
        (
            "lookup.json",
            format!(
                r#"{{"Events": [{}]}}"#,
                recs.iter().map(lookup_item).collect::<Vec<_>>().join(",")
            )
            .into_bytes(),
        ),
        (
            "lookup.jsonl",
            recs.iter()
                .map(lookup_item)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
    ];
    // Multi-member gzip: two members, two records each.
    let mut multi = gzip(envelope(&recs[..2]).as_bytes());
    multi.extend(gzip(envelope(&recs[2..]).as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let reference = {
        let f = write(dir.path(), "ref.json", envelope(&recs).as_bytes());
        analyze_json(&[&f]).0["groups"].clone()
    };
    for (name, bytes) in shapes {
        let f = write(dir.path(), name, &bytes);
        let (v, out) = analyze_json(&[&f]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(v["groups"], reference, "{name}");
    }
    let f = write(dir.path(), "multi.json.gz", &multi);
    let (v, _) = analyze_json(&[&f]);
    assert_eq!(v["inputs"]["records"], 4, "both gzip members are read");
    assert_eq!(v["groups"], reference);
    // One document split across two gzip members, as S3 deliveries can be.
    let doc = envelope(&recs);
    let (a, b) = doc.as_bytes().split_at(doc.len() / 2);
    let mut split = gzip(a);
    split.extend(gzip(b));
    let f = write(dir.path(), "split.json.gz", &split);
    assert_eq!(analyze_json(&[&f]).0["groups"], reference);
}

#[test]
fn stdin_output_file_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let body = envelope(&incident());
    let f = write(dir.path(), "copy.json", body.as_bytes());
    let out_path = dir.path().join("report.json");
    let o = run(
        &[
            "analyze",
            "--format",
            "json",
            "-o",
            out_path.to_str().unwrap(),
            "-",
            &f,
        ],
        body.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let v: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(v["inputs"]["records"], 8);
    assert_eq!(v["inputs"]["duplicates_dropped"], 4);
    assert_eq!(v["inputs"]["kms_calls"], 4);
}

#[test]
fn filters() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.json", envelope(&incident()).as_bytes());
    let calls = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push(&f);
        let (v, _) = analyze_json(&all);
        (
            v["inputs"]["kms_calls"].as_u64().unwrap(),
            v["inputs"]["outside_filters"].as_u64().unwrap(),
        )
    };
    assert_eq!(calls(&["--since", "2026-11-11T00:00:00Z"]), (2, 2));
    assert_eq!(calls(&["--until", "2026-11-10"]), (2, 2));
    assert_eq!(calls(&["--event-name", "kms:DescribeKey"]), (1, 3));
    assert_eq!(
        calls(&["--key", "1234abcd-12ab-34cd-56ef-1234567890ab"]),
        (4, 0)
    );
    assert_eq!(calls(&["--key", VAULT]), (4, 0));
    assert_eq!(calls(&["--key", "alias/nothing"]), (0, 4));
}

#[test]
fn bad_inputs_are_named_and_the_rest_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.json", envelope(&incident()).as_bytes());
    let full = gzip(envelope(&incident()).as_bytes());
    let truncated = write(dir.path(), "truncated.json.gz", &full[..full.len() / 2]);
    let invalid = write(dir.path(), "invalid.json", b"{\"Records\": [");
    let other = write(
        dir.path(),
        "other.json",
        br#"{"Type": "Notification", "Message": "s3 event"}"#,
    );
    let digest = write(
        dir.path(),
        "digest.json",
        br#"{"digestStartTime": "x", "logFiles": []}"#,
    );
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap();
    let (v, out) = analyze_json(&[&good, &truncated, &invalid, &other, &digest, missing]);
    assert_eq!(out.status.code(), Some(1), "some inputs failed");
    let err = stderr(&out);
    assert!(err.contains(&format!("`{truncated}`: gzip:")), "{err}");
    assert!(err.contains(&format!("`{invalid}`: invalid JSON")), "{err}");
    assert!(
        err.contains(&format!(
            "`{other}`: not CloudTrail: a JSON object with keys `Type`, `Message`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("`{missing}`: No such file or directory")),
        "{err}"
    );
    assert!(
        !err.contains("digest.json"),
        "a digest is skipped, not failed: {err}"
    );
    let i = &v["inputs"];
    assert_eq!(
        (
            i["files_read"].as_u64(),
            i["files_skipped"].as_u64(),
            i["files_failed"].as_u64()
        ),
        (Some(1), Some(1), Some(4))
    );
    assert_eq!(i["kms_calls"], 4, "the good file is still analysed");
    assert_eq!(v["failures"].as_array().unwrap().len(), 4);
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["analyze", "--since", "yesterday", "x.json"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`yesterday` is not an RFC 3339 time"),
        "{}",
        stderr(&o)
    );
    assert_eq!(run(&["analyze"], b"").status.code(), Some(2));
    assert_eq!(run(&["frobnicate"], b"").status.code(), Some(2));
}

#[test]
fn sql_refuses_options_its_engine_does_not_use_and_values_it_cannot_paste() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--engine", "athena", "--input", "s3://b/AWSLogs"],
            "`--input` is Spark's",
        ),
        (
            &["--engine", "trino", "--output", "s3://b/out"],
            "`--output` is Spark's",
        ),
        (
            &["--engine", "athena", "--account", "1111"],
            "`1111` is not an account id",
        ),
        (
            &["--engine", "athena", "--region", "eu_west_1"],
            "`eu_west_1` is not a region",
        ),
        (
            &["--engine", "trino", "--table", "x; drop table y"],
            "`x; drop table y` is not a table name",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["sql"];
        all.extend_from_slice(args);
        let o = run(&all, b"");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?} printed a query");
    }
    let o = run(
        &[
            "sql",
            "--engine",
            "athena",
            "--table",
            "db.trail_logs",
            "--account",
            "111122223333",
            "--region",
            "eu-west-1",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FROM db.trail_logs"));
}

#[test]
fn directory_walk_skips_digests_and_non_logs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/10/a.json.gz",
        &gzip(envelope(&incident()).as_bytes()),
    );
    write(
        root,
        "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/10/d.json.gz",
        &gzip(b"{}"),
    );
    write(
        root,
        "AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/11/10/i.json.gz",
        &gzip(b"{}"),
    );
    // Logs beside and after the skipped trees are read.
    write(
        root,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/10/b.json.gz",
        &gzip(envelope(&incident()).as_bytes()),
    );
    write(
        root,
        "AWSLogs/222233334444/CloudTrail/eu-west-1/2026/11/10/c.json.gz",
        &gzip(envelope(&incident()).as_bytes()),
    );
    // Eight more accounts with a digest tree beside their logs: whatever
    // order the file system lists them in, some log is almost surely
    // walked after some digest tree (all 8 digests last: about 1 in 2^8).
    for n in 0..8 {
        let account = format!("AWSLogs/33334444555{n}");
        write(
            root,
            &format!("{account}/CloudTrail-Digest/eu-west-1/2026/11/10/d.json.gz"),
            &gzip(b"{}"),
        );
        write(
            root,
            &format!("{account}/CloudTrail/eu-west-1/2026/11/10/a.json.gz"),
            &gzip(envelope(&incident()).as_bytes()),
        );
    }
    write(root, "notes.txt", b"not a log");
    let (v, out) = analyze_json(&[root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["inputs"]["files_read"], 3 + 8);
    assert_eq!(v["inputs"]["files_skipped"], 3 + 8);
    // A walk that starts inside a digest tree reads nothing from it.
    let digests = root.join("AWSLogs/111122223333/CloudTrail-Digest/eu-west-1");
    let (v, out) = analyze_json(&[digests.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(v["inputs"]["files_read"], 0);
    assert_eq!(v["inputs"]["files_skipped"], 1);
}

#[test]
fn strict_stops_at_the_first_failed_input() {
    let dir = tempfile::tempdir().unwrap();
    let good1 = write(dir.path(), "a-good.json", envelope(&incident()).as_bytes());
    let bad = write(dir.path(), "b-bad.json", b"{\"Records\": [");
    let good2 = write(dir.path(), "c-good.json", envelope(&incident()).as_bytes());
    let o = run(
        &[
            "analyze", "--format", "json", "--strict", &good1, &bad, &good2,
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "no report");
    let err = stderr(&o);
    assert!(err.contains(&format!("`{bad}`: invalid JSON")), "{err}");
    assert!(err.contains("--strict"), "{err}");
    // Without --strict the same inputs give a report and exit 1.
    let (v, o) = analyze_json(&[&good1, &bad, &good2]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(v["inputs"]["files_failed"], 1);
}

#[test]
fn filters_that_leave_nothing_exit_1_and_say_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.json", envelope(&incident()).as_bytes());
    for (flag, value) in [
        ("--since", "2027-01-01"),
        ("--key", "alias/no-such-key"),
        ("--event-name", "ReEncrypt"),
    ] {
        let out = run(&["analyze", "--format", "json", flag, value, &f], b"");
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("nothing to analyse"), "{err}");
        assert!(err.contains(&format!("`{flag} ")), "{err}");
        assert!(err.contains(VAULT), "names the keys there: {err}");
        assert!(err.contains("`Decrypt`"), "names the events there: {err}");
        assert!(
            err.contains("from 2026-11-10T01:00:00Z"),
            "names the span: {err}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["failures"][0]["source"], "filters");
    }
    // A filter that leaves something is not a failure.
    let out = run(
        &["analyze", "--format", "json", "--event-name", "Decrypt", &f],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
