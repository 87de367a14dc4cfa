//! Bad input, each case beside one good file, through the real binary.
//!
//! Every case is generated here, in a temporary directory (no binary fixture
//! is committed). Each run must not panic (exit 0 or 1, never 101), must name
//! a bad input and the reason on stderr and in the report's `failures`, must
//! still analyse the good file, must exit 1 when an input or a record could
//! not be read and 0 otherwise, and must keep the books:
//! `records = records_invalid + duplicates_dropped + non_kms + outside_filters + kms_calls`.
//!
//! Decisions these tests pin down:
//! - an S3 event notification (`{"Records":[{"eventSource":"aws:s3",...}]}`),
//!   like any AWS event notification (`aws:sqs`, SNS's `EventSource`
//!   `aws:sns`, ...), shares CloudTrail's envelope but is not CloudTrail: the
//!   input is rejected whole and named (`files_failed`), its entries are not
//!   counted as records, so nothing of it is mixed in as "non-KMS";
//! - a file of zero records (`{"Records": []}`) is a valid, empty delivery:
//!   read, no message, exit 0;
//! - duplicate `eventID`s across files are counted in `duplicates_dropped`,
//!   without a message: overlapping inputs are normal;
//! - a record whose fields have the wrong JSON types is still a record
//!   (`src/event.rs`): a wrong type reads as absent, without a message;
//! - deep nesting (10,000 levels) never recurses without bound: what is
//!   skipped (unknown fields, entries that are not objects) or kept raw
//!   (`requestParameters`) is read iteratively, and a value parsed into a
//!   tree stops at `serde_json`'s limit (128) with `recursion limit
//!   exceeded`; `requestParameters` that deep read as absent.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::util::{analyze_json, gzip, stderr, write};

const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The KMS calls in the good file.
const GOOD_CALLS: u64 = 3;

/// A KMS `Decrypt` record by AWS Backup's service principal; `id` < 2^48.
fn kms(id: u64) -> String {
    format!(
        r#"{{"eventVersion": "1.09", "eventID": "00000000-0000-4000-8000-{id:012}",
        "eventTime": "2026-11-10T01:00:00Z", "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt", "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
        "userIdentity": {{"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"}},
        "requestParameters": {{"keyId": "{KEY}"}},
        "resources": [{{"type": "AWS::KMS::Key", "ARN": "{KEY}"}}]}}"#
    )
    .replace('\n', " ")
}

fn envelope(ids: impl IntoIterator<Item = u64>) -> String {
    let records: Vec<String> = ids.into_iter().map(kms).collect();
    format!(r#"{{"Records": [{}]}}"#, records.join(","))
}

/// One run of `analyze` on the good file (records 1 to 3) and `bad`.
struct Run {
    report: Value,
    stderr: String,
    code: Option<i32>,
}

impl Run {
    fn new(dir: &Path, bad: &[&str]) -> Run {
        let good = write(dir, "good.json", envelope(1..=GOOD_CALLS).as_bytes());
        let mut args = vec![good.as_str()];
        args.extend_from_slice(bad);
        let (report, out) = analyze_json(&args);
        let run = Run {
            report,
            stderr: stderr(&out),
            code: out.status.code(),
        };
        assert!(
            matches!(run.code, Some(0 | 1)),
            "exit {:?} (101 is a panic); stderr: {}",
            run.code,
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run.assert_books();
        run
    }

    fn input(&self, field: &str) -> u64 {
        self.report["inputs"][field]
            .as_u64()
            .unwrap_or_else(|| panic!("inputs.{field} in {}", self.report["inputs"]))
    }

    fn assert_books(&self) {
        crate::util::assert_books(&self.report["inputs"]);
    }

    /// The good file's calls and `extra` more were counted.
    fn calls(&self, extra: u64) -> &Self {
        assert_eq!(
            self.input("kms_calls"),
            GOOD_CALLS + extra,
            "{}; stderr: {}",
            self.report["inputs"],
            self.stderr
        );
        self
    }

    /// `path` is named with `reason` on stderr and in `failures`, exit 1.
    fn failed(&self, path: &str, reason: &str) -> &Self {
        assert_eq!(self.code, Some(1), "{}", self.stderr);
        let line = format!("denydiff: `{path}`: {reason}");
        assert!(
            self.stderr.contains(&line),
            "want {line:?} in: {}",
            self.stderr
        );
        let named = self.report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["source"] == path && f["reason"].as_str().unwrap().starts_with(reason));
        assert!(named, "{path} in {}", self.report["failures"]);
        self
    }

    /// Every input was read: no message, exit 0.
    fn clean(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        assert_eq!(self.stderr, "");
        assert_eq!(self.report["failures"], serde_json::json!([]));
        self
    }

    fn counts(&self, field: &str, n: u64) -> &Self {
        assert_eq!(self.input(field), n, "{field}: {}", self.report["inputs"]);
        self
    }
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let full = gzip(envelope(10..13).as_bytes());
    for cut in [2, 10, full.len() / 2, full.len() - 4, full.len() - 1] {
        let f = write(dir.path(), &format!("cut{cut}.json.gz"), &full[..cut]);
        Run::new(dir.path(), &[&f])
            .failed(&f, "gzip:")
            .calls(0)
            .counts("files_failed", 1);
    }
}

#[test]
fn gzip_of_garbage_and_garbage_with_a_gzip_header() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let zipped = write(dir.path(), "garbage.json.gz", &gzip(&garbage));
    let mut fake = vec![0x1f, 0x8b];
    fake.extend(&garbage);
    let fake = write(dir.path(), "fake.json.gz", &fake);
    Run::new(dir.path(), &[&zipped, &fake])
        .failed(&zipped, "invalid JSON:")
        .failed(&fake, "gzip:")
        .calls(0)
        .counts("files_failed", 2);
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut two = gzip(envelope(10..12).as_bytes());
    two.extend(gzip(envelope(12..15).as_bytes()));
    let f = write(dir.path(), "two.json.gz", &two);
    Run::new(dir.path(), &[&f])
        .clean()
        .calls(5)
        .counts("records", GOOD_CALLS + 5);
}

#[test]
fn empty_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.json", b"");
    let blank = write(dir.path(), "blank.json", b" \n\t\n");
    let empty_gz = write(dir.path(), "empty.json.gz", &gzip(b""));
    Run::new(dir.path(), &[&empty, &blank, &empty_gz])
        .failed(&empty, "empty input")
        .failed(&blank, "empty input")
        .failed(&empty_gz, "empty input")
        .calls(0)
        .counts("files_failed", 3);
}

#[test]
fn zero_records_is_a_valid_empty_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "zero.json", br#"{"Records": []}"#);
    let zipped = write(dir.path(), "zero.json.gz", &gzip(br#"{"Records":[]}"#));
    let array = write(dir.path(), "zero-array.json", b"[]");
    Run::new(dir.path(), &[&plain, &zipped, &array])
        .clean()
        .calls(0)
        .counts("files_read", 4)
        .counts("records", GOOD_CALLS);
}

#[test]
fn non_utf8_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = write(dir.path(), "latin1.json", b"\xff\xfe caf\xe9 \x80\x81");
    // Valid JSON around a string that is not UTF-8: the whole file fails.
    let (head, tail) = envelope([20])
        .split_once("Decrypt")
        .map(|(h, t)| (h.to_owned(), t.to_owned()))
        .unwrap();
    let inside = [head.as_bytes(), b"Decr\xffypt", tail.as_bytes()].concat();
    let inside = write(dir.path(), "inside.json", &inside);
    // NDJSON: only the line that is not UTF-8 is lost, and counted.
    let mut lines = format!("{}\n", kms(21)).into_bytes();
    lines.extend(b"{\"eventName\": \"\xc3\x28\"}\n");
    lines.extend(format!("{}\n", kms(22)).into_bytes());
    let lines = write(dir.path(), "lines.ndjson", &lines);
    Run::new(dir.path(), &[&latin1, &inside, &lines])
        .failed(&latin1, "invalid JSON:")
        .failed(&inside, "invalid JSON:")
        .failed(&lines, "line 2:")
        .calls(2)
        .counts("files_failed", 2)
        .counts("records_invalid", 1);
}

#[test]
fn json_that_is_not_cloudtrail() {
    let dir = tempfile::tempdir().unwrap();
    let object = write(
        dir.path(),
        "object.json",
        br#"{"name": "inventory", "items": [1, 2, 3]}"#,
    );
    let scalar = write(dir.path(), "scalar.json", b"42");
    let strings = write(dir.path(), "strings.json", br#"["a", "b", null]"#);
    let lookup = write(
        dir.path(),
        "lookup.json",
        br#"{"Events": [{"EventId": "x", "CloudTrailEvent": "not json"}]}"#,
    );
    Run::new(dir.path(), &[&object, &scalar, &strings, &lookup])
        .failed(
            &object,
            "not CloudTrail: a JSON object with keys `name`, `items`",
        )
        .failed(
            &scalar,
            "not CloudTrail: the top-level JSON value is a number",
        )
        .failed(
            &strings,
            "3 record(s) are not JSON objects (record 1: a string)",
        )
        .failed(&lookup, "1 record(s) are not JSON objects")
        .calls(0)
        .counts("files_failed", 2)
        .counts("records_invalid", 4);
}

/// An S3 event notification as S3 sends it to SQS, SNS or Lambda.
fn s3_notification() -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2026-11-10T01:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "logs",
               "bucket": {"name": "trail-bucket", "arn": "arn:aws:s3:::trail-bucket"},
               "object": {"key": "AWSLogs/111122223333/CloudTrail/a.json.gz", "size": 1024}}
    }]})
    .to_string()
}

#[test]
fn event_notifications_are_recognised_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = write(dir.path(), "s3-event.json", s3_notification().as_bytes());
    let sns = write(
        dir.path(),
        "sns-event.json",
        br#"{"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {"Message": "{}"}}]}"#,
    );
    // Beside CloudTrail records the input is still not a CloudTrail log.
    let mixed = s3_notification().replace("[{", &format!("[{}, {{", kms(30)));
    let mixed = write(dir.path(), "mixed.json", mixed.as_bytes());
    Run::new(dir.path(), &[&s3, &sns, &mixed])
        .failed(
            &s3,
            "not CloudTrail: 1 of 1 records are AWS event notifications (`eventSource` `aws:s3`)",
        )
        .failed(
            &sns,
            "not CloudTrail: 1 of 1 records are AWS event notifications (`eventSource` `aws:sns`)",
        )
        .failed(
            &mixed,
            "not CloudTrail: 1 of 2 records are AWS event notifications",
        )
        .calls(0)
        .counts("records", GOOD_CALLS)
        .counts("non_kms", 0)
        .counts("files_failed", 3);
}

#[test]
fn records_with_every_field_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = serde_json::json!({"Records": [
        {"eventVersion": 1, "eventTime": [], "eventSource": "kms.amazonaws.com",
         "eventName": {}, "awsRegion": 5, "sourceIPAddress": true, "userAgent": null,
         "eventID": 7.5, "eventType": [1], "errorCode": {"a": 1}, "errorMessage": 3,
         "recipientAccountId": false, "vpcEndpointId": [], "userIdentity": "root",
         "resources": "all", "requestParameters": 5, "responseElements": "not json"},
        {"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
         "userIdentity": {"type": 1, "arn": [], "invokedBy": {}, "accountId": 1.5,
                          "sessionContext": {"sessionIssuer": "x"}},
         "resources": [1, "a", {"ARN": 5, "type": []}, null],
         "requestParameters": {"keyId": 7, "encryptionContext": [1]}},
        {"eventVersion": {}, "eventTime": 1, "eventSource": 12, "eventName": null,
         "eventID": false, "userIdentity": [], "resources": {}}
    ]})
    .to_string();
    let wrong = write(dir.path(), "wrong-types.json", wrong.as_bytes());
    // Wrong types one level up: these inputs are not readable at all.
    let records = write(dir.path(), "records-string.json", br#"{"Records": "all"}"#);
    let events = write(dir.path(), "events-number.json", br#"{"Events": 5}"#);
    Run::new(dir.path(), &[&wrong, &records, &events])
        .failed(&records, "invalid JSON: invalid type: string")
        .failed(&events, "invalid JSON: invalid type: integer")
        .calls(2)
        .counts("non_kms", 1)
        .counts("files_failed", 2);
    Run::new(dir.path(), &[&wrong]).clean().calls(2);
}

#[test]
fn repeated_records_keys_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Regression: the second `Records` (and an `Events` beside them) was
    // dropped unread and uncounted.
    let text = format!(
        r#"{{"Records": [{}], "Records": [{}], "Events": [{}]}}"#,
        kms(40),
        kms(41),
        serde_json::json!({"CloudTrailEvent": kms(42)})
    );
    let f = write(dir.path(), "repeated.json", text.as_bytes());
    Run::new(dir.path(), &[&f]).clean().calls(3);
}

/// `depth` opening brackets, `inner`, and the closing brackets.
fn nested(depth: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn deeply_nested_json() {
    let dir = tempfile::tempdir().unwrap();
    let deep = nested(10_000, "1");
    let top = write(dir.path(), "top.json", deep.as_bytes());
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let in_record = format!(
        r#"{{"Records": [{}, {{"eventSource": "kms.amazonaws.com", "x": {objects}}}]}}"#,
        kms(50)
    );
    let in_record = write(dir.path(), "in-record.json", in_record.as_bytes());
    let single = write(
        dir.path(),
        "single.json",
        format!(r#"{{"eventName": "Decrypt", "x": {deep}}}"#).as_bytes(),
    );
    let lines = format!("{}\n{deep}\n{}\n", kms(51), kms(52));
    let lines = write(dir.path(), "lines.jsonl", lines.as_bytes());
    let lookup = serde_json::json!({"Events": [{"CloudTrailEvent": deep}]}).to_string();
    let lookup = write(dir.path(), "lookup.json", lookup.as_bytes());
    // `requestParameters` is kept raw: the record is read, its parameters
    // are unreadable, so the call has no key.
    let raw = envelope([53]).replace(&format!(r#"{{"keyId": "{KEY}"}}"#), &objects);
    let raw = raw.replace(
        r#""resources": [{"type": "AWS::KMS::Key", "ARN": ""#,
        r#""r": [{"": ""#,
    );
    let raw = write(dir.path(), "raw.json", raw.as_bytes());
    let gz = write(dir.path(), "deep.json.gz", &gzip(deep.as_bytes()));
    let run = Run::new(
        dir.path(),
        &[&top, &in_record, &single, &lines, &lookup, &raw, &gz],
    );
    let not_object = "1 record(s) are not JSON objects (record 1: an array)";
    run.failed(&top, not_object)
        .failed(&gz, not_object)
        .failed(&lookup, not_object)
        .failed(&single, "invalid JSON: recursion limit exceeded")
        .failed(&lines, "line 2: a whole log file on one line")
        .calls(5)
        .counts("files_failed", 1)
        .counts("records_invalid", 4);
    assert!(!run.stderr.contains(&in_record) && !run.stderr.contains(&raw));
    let keys: Vec<&Value> = run.report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["key_arn"])
        .collect();
    assert!(keys.contains(&&Value::from("(no key)")), "{keys:?}");
}

#[test]
fn a_100_mb_string() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let record = kms(60);
    let (head, tail) = record.split_at(record.rfind('}').unwrap());
    write!(w, r#"{{"Records": [{head}, "userAgent": ""#).unwrap();
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..100 {
        w.write_all(&chunk).unwrap();
    }
    write!(w, r#""{tail}, {}]}}"#, kms(61)).unwrap();
    w.into_inner().unwrap().sync_all().unwrap();
    let f = path.to_str().unwrap();
    Run::new(dir.path(), &[f]).clean().calls(2);
}

#[test]
fn duplicate_event_ids_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let again = write(dir.path(), "again.json", envelope([1, 2, 70]).as_bytes());
    let line = write(dir.path(), "line.jsonl", kms(3).as_bytes());
    let good_again = dir.path().join("good.json");
    let good_again = good_again.to_str().unwrap();
    Run::new(dir.path(), &[&again, &line, good_again])
        .clean()
        .calls(1)
        .counts("duplicates_dropped", 2 + 1 + GOOD_CALLS);
}

#[cfg(unix)]
#[test]
fn symlink_loops() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let walk = dir.path().join("walk");
    write(&walk, "logs/a.json", envelope([80]).as_bytes());
    symlink(&walk, walk.join("logs/back")).unwrap();
    symlink(walk.join("x.json"), walk.join("y.json")).unwrap();
    symlink(walk.join("y.json"), walk.join("x.json")).unwrap();
    let walked = walk.to_str().unwrap();
    let named = walk.join("x.json");
    let named = named.to_str().unwrap();
    let back = walk.join("logs/back");
    Run::new(dir.path(), &[walked, named])
        .failed(
            back.to_str().unwrap(),
            &format!("symlink loop back to `{walked}`"),
        )
        .failed(named, "Too many levels of symbolic links")
        .calls(1)
        .counts("files_failed", 4);
}

#[test]
fn a_path_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/file.json");
    let missing = missing.to_str().unwrap();
    Run::new(dir.path(), &[missing])
        .failed(missing, "No such file or directory")
        .calls(0)
        .counts("files_failed", 1);
}
