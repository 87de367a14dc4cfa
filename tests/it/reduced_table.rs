//! The reduced table (`docs/reduced-table.md`): `--export-calls` and back
//! gives the direct analysis (Parquet and CSV, the sample and the real
//! samples); the Spark query run for real (pyspark, local mode) over the
//! sample and a `gen_corpus.py` tree, and the Athena query run for real in
//! DuckDB over a table with the Athena CloudTrail schema, give the local
//! analysis; the Trino and Lake queries parse as Trino SQL with sqlglot;
//! tables that break the contract fail as inputs, naming file and column.
//!
//! The engines run in the Python that `.ci/run` exports as
//! `DENYDIFF_ENGINES_PYTHON` (pyspark, sqlglot, duckdb); without it those
//! tests skip, and fail under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;
use polars_io::prelude::*;
use serde_json::Value;

use crate::util::{analyze_json, gen_corpus, gzip, run, shared, stderr, stdout};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sample-logs/incident-2026-11-backup-vault/AWSLogs"
);

/// The contract's columns, in order (`reduced_table::COLUMNS`).
use denydiff::reduced_table::COLUMNS;

/// The report without what names or counts inputs: `inputs`,
/// `inputs_per_file` and `failures` name files and count every record read
/// (a table holds only the kept ones), so only the calls kept and left out
/// are compared of the books.
fn essence(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    let inputs = o.remove("inputs").unwrap();
    o.remove("inputs_per_file");
    o.remove("failures");
    o.insert("kms_calls".into(), inputs["kms_calls"].clone());
    o.insert("outside_filters".into(), inputs["outside_filters"].clone());
    v
}

/// Asserts that two reports agree on everything but their inputs, and that
/// there was something to agree on.
pub(crate) fn assert_same_analysis(table: &Value, direct: &Value) {
    assert!(direct["inputs"]["kms_calls"].as_u64() > Some(0), "{direct}");
    let (t, d) = (essence(table), essence(direct));
    if t != d {
        let o = t.as_object().unwrap();
        let differ: Vec<&String> = o
            .keys()
            .filter(|k| t[k.as_str()] != d[k.as_str()])
            .collect();
        panic!("the analyses differ in {differ:?}");
    }
}

/// `analyze ARGS --export-calls FILE`, then `analyze FILE`: both reports.
fn round_trip(args: &[&str], file: &Path) -> (Value, Value) {
    let file = file.to_str().unwrap();
    let mut all = args.to_vec();
    all.extend(["--export-calls", file]);
    let (direct, out) = analyze_json(&all);
    assert!(Path::new(file).exists(), "{}", stderr(&out));
    let (table, out) = analyze_json(&[file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (table, direct)
}

#[test]
fn export_and_back_gives_the_direct_analysis_parquet_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["calls.parquet", "calls.csv"] {
        let (table, direct) = round_trip(&[SAMPLE], &dir.path().join(name));
        assert_same_analysis(&table, &direct);
        assert!(table["blocked"].as_array().is_some_and(|b| !b.is_empty()));
    }
}

#[test]
fn a_directory_of_parts_is_one_table_and_other_csv_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (direct, _) = analyze_json(&[SAMPLE]);
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let file = parts.join("part-00000.parquet");
    let out = run(
        &[
            "analyze",
            SAMPLE,
            "--quiet",
            "--format",
            "json",
            "--export-calls",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(parts.join("_SUCCESS"), b"").unwrap();
    std::fs::write(parts.join("report.csv"), b"caller,calls\nalice,3\n").unwrap();
    let (table, out) = analyze_json(&[parts.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(table["inputs"]["files_read"], 1);
    assert_eq!(table["inputs"]["files_skipped"], 2);
    assert_same_analysis(&table, &direct);
}

#[test]
fn export_and_back_on_the_real_samples() {
    let Some(real) = shared("real-samples") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for name in ["real.parquet", "real.csv"] {
        let (table, direct) = round_trip(&[real.to_str().unwrap()], &dir.path().join(name));
        assert_same_analysis(&table, &direct);
    }
}

#[test]
fn a_window_given_again_cuts_the_export_as_it_cut_the_trail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls.parquet");
    let window = ["--since", "2026-11-11T10:00:00Z", "--until", "2026-11-11"];
    let mut args = window.to_vec();
    args.push(SAMPLE);
    let (_, direct) = round_trip(&args, &file);
    let mut again = window.to_vec();
    again.push(file.to_str().unwrap());
    let (table, _) = analyze_json(&again);
    assert_same_analysis(&table, &direct);
}

#[test]
fn a_csv_that_quotes_every_cell_and_writes_null_as_two_quotes_gives_the_direct_analysis() {
    // Trino's CLI CSV: every cell quoted, null as `""` (an empty string to a
    // CSV reader). A success's `error_code` and a direct caller's
    // `identity_invoked_by` are such cells.
    let dir = tempfile::tempdir().unwrap();
    let (_, direct) = round_trip(&[SAMPLE], &dir.path().join("calls.csv"));
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(dir.path().join("calls.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let quoted = |v: Option<&str>| format!("\"{}\"", v.unwrap_or("").replace('"', "\"\""));
    let mut text = COLUMNS.map(|c| quoted(Some(c))).join(",") + "\n";
    let columns: Vec<&StringChunked> = COLUMNS
        .iter()
        .map(|c| df.column(c).unwrap().str().unwrap())
        .collect();
    let error_code = df.column("error_code").unwrap();
    assert!(
        error_code.null_count() > 0,
        "no success to turn into a failure"
    );
    for i in 0..df.height() {
        let cells: Vec<String> = columns.iter().map(|c| quoted(c.get(i))).collect();
        text += &(cells.join(",") + "\n");
    }
    assert!(text.contains(",\"\","), "no null written as `\"\"`");
    let file = dir.path().join("trino.csv");
    std::fs::write(&file, text).unwrap();
    let (table, out) = analyze_json(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_same_analysis(&table, &direct);
}

/// A good export of the sample, as a polars frame, and its path.
fn sample_frame(dir: &Path) -> (DataFrame, PathBuf) {
    let file = dir.join("good.parquet");
    let out = run(
        &[
            "analyze",
            "--format",
            "json",
            SAMPLE,
            "--export-calls",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let df = ParquetReader::new(std::fs::File::open(&file).unwrap())
        .finish()
        .unwrap();
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, COLUMNS.to_vec());
    (df, file)
}

fn write_parquet(path: &Path, df: &mut DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(df)
        .unwrap();
}

/// `analyze FILE` (and with `--strict`): exit 1 with a report naming the
/// file and `what`; exit 2 without one. Returns the report's books.
fn assert_failed_input(file: &Path, what: &str) -> Value {
    let f = file.to_str().unwrap();
    let (v, out) = analyze_json(&[f]);
    assert_eq!(out.status.code(), Some(1), "{f}: {}", stderr(&out));
    let failure = &v["failures"][0];
    assert_eq!(failure["source"], f);
    let reason = failure["reason"].as_str().unwrap();
    assert!(reason.contains(what), "{f}: {reason}");
    assert!(stderr(&out).contains(f), "{}", stderr(&out));
    let strict = run(&["analyze", "--format", "json", "--strict", f], b"");
    assert_eq!(strict.status.code(), Some(2), "{}", stderr(&strict));
    assert!(stderr(&strict).contains(what), "{}", stderr(&strict));
    assert!(stdout(&strict).is_empty());
    v["inputs"].clone()
}

/// [`assert_failed_input`] for a file that is no table at all.
fn assert_failed_file(file: &Path, what: &str) {
    let books = assert_failed_input(file, what);
    assert_eq!(books["files_failed"], 1, "{books}");
    assert_eq!(books["records"], 0, "{books}");
}

#[test]
fn tables_that_break_the_contract_are_failed_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (df, good) = sample_frame(dir.path());

    let missing = dir.path().join("missing.parquet");
    write_parquet(&missing, &mut df.drop("event_time").unwrap());
    assert_failed_file(&missing, "column `event_time` is missing");

    let wrong = dir.path().join("wrong.parquet");
    let mut typed = df.clone();
    let numbers = Column::new("recipient_account_id".into(), vec![7i64; df.height()]);
    typed.with_column(numbers).unwrap();
    write_parquet(&wrong, &mut typed);
    assert_failed_file(&wrong, "column `recipient_account_id` is `i64`");

    let csv = dir.path().join("missing.csv");
    std::fs::write(
        &csv,
        "denydiff_table_version,row_kind,event_id\n1,record,e\n",
    )
    .unwrap();
    assert_failed_file(&csv, "column `event_time` is missing");

    let empty = dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    assert_failed_file(&empty, "empty file");

    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("truncated.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert_failed_file(&cut, "not a readable Parquet file");

    let version = dir.path().join("version.csv");
    let mut header = COLUMNS.join(",");
    header.push_str("\n2,record");
    header.push_str(&",".repeat(COLUMNS.len() - 2));
    std::fs::write(&version, header + "\n").unwrap();
    // A row of another version: the file is read, the row is an invalid record.
    let books = assert_failed_input(&version, "`denydiff_table_version` is `2`");
    assert_eq!(
        (books["records"].as_u64(), books["records_invalid"].as_u64()),
        (Some(1), Some(1))
    );
}

/// The Python with pyspark, sqlglot and duckdb, or `None` (test skips)
/// outside CI.
fn engines_python() -> Option<String> {
    if let Ok(p) = std::env::var("DENYDIFF_ENGINES_PYTHON") {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "DENYDIFF_ENGINES_PYTHON is not set: .ci/run must install pyspark, sqlglot and duckdb"
    );
    eprintln!(
        "skipping: DENYDIFF_ENGINES_PYTHON is not set (a python with pyspark, sqlglot, duckdb)"
    );
    None
}

fn script(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engines/").to_owned() + name
}

fn python(py: &str, args: &[&str]) -> Output {
    let out = Command::new(py).args(args).output().expect("python runs");
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `denydiff sql ARGS` into `file`.
fn sql(args: &[&str], file: &Path) -> String {
    let mut all = vec!["sql"];
    all.extend_from_slice(args);
    let out = run(&all, b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(file, &out.stdout).unwrap();
    file.to_str().unwrap().to_owned()
}

#[test]
fn spark_reduces_the_sample_and_a_corpus_to_the_local_analysis() {
    let Some(py) = engines_python() else { return };
    let Some((_corpus, logs, truth)) = gen_corpus("2", "15", "200") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let at = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let window = ["--since", "2026-11-11T10:00:00Z", "--until", "2026-11-11"];
    let mut day_args = vec!["--engine", "spark", "--input", SAMPLE, "--output"];
    let day_out = at("sample-day");
    day_args.push(&day_out);
    day_args.extend(window);
    let runs = [
        (SAMPLE.to_owned(), at("sample")),
        (logs.to_str().unwrap().to_owned(), at("corpus")),
    ];
    let mut files = Vec::new();
    for (i, (input, output)) in runs.iter().enumerate() {
        let args = ["--engine", "spark", "--input", input, "--output", output];
        files.push(sql(&args, &dir.path().join(format!("q{i}.sql"))));
    }
    files.push(sql(&day_args, &dir.path().join("day.sql")));
    let mut py_args = vec![script("spark_sql.py")];
    py_args.extend(files);
    python(&py, &py_args.iter().map(String::as_str).collect::<Vec<_>>());

    let mut tables = Vec::new();
    for (input, output) in &runs {
        let (table, out) = analyze_json(&[output]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (direct, _) = analyze_json(&[input]);
        assert_same_analysis(&table, &direct);
        tables.push(table);
    }
    // Every KMS event the generator wrote is a call of the table.
    assert_eq!(tables[1]["inputs"]["kms_calls"], truth["kms_events"]);

    // The window: the days read (and the key and trail changes of the whole
    // tree), cut again by analyze, equal the raw analysis of the whole tree
    // with the same window.
    assert_same_with(&window, &day_out, Path::new(SAMPLE));
}

#[test]
fn the_athena_query_run_in_duckdb_gives_the_local_analysis() {
    let Some(py) = engines_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let q = sql(&["--engine", "athena"], &dir.path().join("athena.sql"));
    let csv = dir.path().join("athena-result.csv");
    python(
        &py,
        &[
            &script("athena_duckdb.py"),
            SAMPLE,
            &q,
            csv.to_str().unwrap(),
        ],
    );
    let (table, out) = analyze_json(&[csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (direct, _) = analyze_json(&[SAMPLE]);
    assert_same_analysis(&table, &direct);
}

#[test]
fn every_trino_dialect_query_parses_and_selects_the_contract() {
    let Some(py) = engines_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let filters = [
        "--since",
        "2026-11-10",
        "--until",
        "2026-11-12",
        "--key",
        "alias/prod-backup-vault",
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
    ];
    let mut files = Vec::new();
    for (engine, extra) in [
        ("athena", vec![]),
        ("trino", vec!["--table", "hive.logs.cloudtrail"]),
        // AWS writes a store's id bare in `FROM`; its hyphens are Lake's
        // own token, which no Trino grammar parses: an id without them here.
        (
            "cloudtrail-lake",
            vec!["--event-data-store", "EXAMPLEf8524e8f8bd1"],
        ),
    ] {
        let mut args = vec!["--engine", engine];
        args.extend(extra);
        args.extend(filters);
        files.push(sql(&args, &dir.path().join(format!("{engine}.sql"))));
    }
    let mut args = vec![script("parse_trino.py")];
    args.extend(files.iter().cloned());
    let out = python(&py, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let listed = stdout(&out);
    let lines: Vec<&str> = listed.lines().collect();
    // Each query's two SELECTs (records, horizon).
    assert_eq!(lines.len(), 2 * files.len(), "{listed}");
    for line in lines {
        let cols: Vec<&str> = line.split('\t').skip(1).collect();
        assert_eq!(cols, COLUMNS.to_vec(), "{line}");
    }
}

/// The Athena query of `args` run in DuckDB over the tree `logs`: the
/// result CSV's path and text.
fn athena_csv(py: &str, logs: &Path, args: &[&str], dir: &Path, name: &str) -> (String, String) {
    let mut all = vec!["--engine", "athena"];
    all.extend_from_slice(args);
    let q = sql(&all, &dir.join(format!("{name}.sql")));
    let csv = dir.join(format!("{name}.csv"));
    let csv = csv.to_str().unwrap().to_owned();
    python(
        py,
        &[
            &script("athena_duckdb.py"),
            logs.to_str().unwrap(),
            &q,
            &csv,
        ],
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    (csv, text)
}

/// `analyze ARGS TABLE` and `analyze ARGS RAW` agree; with a window, but
/// for the count of calls outside it (a pruned read holds fewer).
fn assert_same_with(args: &[&str], table: &str, raw: &Path) {
    let mut t = args.to_vec();
    t.push(table);
    let (table, out) = analyze_json(&t);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut d = args.to_vec();
    d.push(raw.to_str().unwrap());
    let (mut direct, _) = analyze_json(&d);
    if args.contains(&"--since") {
        direct["inputs"]["outside_filters"] = table["inputs"]["outside_filters"].clone();
    }
    assert_same_analysis(&table, &direct);
}

/// The sample's tree copied under `dir`, with extra gzipped log files
/// (`(path under AWSLogs/111122223333/CloudTrail/, records)`).
fn sample_with(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let logs = dir.join("AWSLogs");
    for entry in walkdir::WalkDir::new(SAMPLE) {
        let entry = entry.unwrap();
        let to = logs.join(entry.path().strip_prefix(SAMPLE).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    for (path, records) in extra {
        let to = logs.join("111122223333/CloudTrail").join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let body = format!(r#"{{"Records": [{records}]}}"#);
        std::fs::write(to, gzip(body.as_bytes())).unwrap();
    }
    logs
}

#[test]
fn an_alias_as_key_keeps_every_record_of_the_key() {
    // Calls and `PutKeyPolicy` name the key by ARN or id, never the alias.
    let Some(py) = engines_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = ["--key", "alias/prod-backup-vault"];
    let (csv, _) = athena_csv(&py, Path::new(SAMPLE), &key, dir.path(), "alias");
    assert_same_with(&key, &csv, Path::new(SAMPLE));
}

/// A call at 23:58 of 2026-11-11, delivered in the next day's folder.
const LATE_CALL: (&str, &str) = (
    "eu-west-1/2026/11/12/111122223333_CloudTrail_eu-west-1_20261112T0003Z_late.json.gz",
    r#"{"eventVersion": "1.10", "eventTime": "2026-11-11T23:58:30Z",
    "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "eu-west-1",
    "userIdentity": {"type": "AssumedRole", "principalId": "AROA27E63AB2D3A4B28C8:i-1",
      "arn": "arn:aws:sts::111122223333:assumed-role/app-server/i-1", "accountId": "111122223333",
      "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app-server",
        "accountId": "111122223333"}}, "invokedBy": "ec2.amazonaws.com"},
    "sourceIPAddress": "ec2.amazonaws.com", "requestParameters": {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "responseElements": null, "eventID": "11111111-2222-4333-8444-999999999999",
    "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key",
      "ARN": "arn:aws:kms:eu-west-1:111122223333:key/5c2a1f3e-7b6d-4e8f-9a0b-1c2d3e4f5a6b"}],
    "recipientAccountId": "111122223333"}"#,
);

#[test]
fn a_window_keeps_the_late_records_of_its_last_day_and_the_key_changes_before_it() {
    // A day folder is the delivery day; the analysis reads key changes
    // whatever the window.
    let Some(py) = engines_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_with(dir.path(), &[LATE_CALL]);
    let window = ["--since", "2026-11-11T10:00:00Z", "--until", "2026-11-11"];
    let (csv, text) = athena_csv(&py, &logs, &window, dir.path(), "window");
    assert!(text.contains("11111111-2222-4333-8444-999999999999"));
    assert!(
        text.contains("\"2026-11-10T00:13:19Z\""),
        "the alias made before the window"
    );
    assert_same_with(&window, &csv, &logs);
}

#[test]
fn a_region_keeps_the_trail_changes_made_in_another_region() {
    // A multi-region trail created and stopped from us-east-1 stops
    // eu-west-1's logging too (the collector places it: trail_scope.rs).
    let Some(py) = engines_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let admin = r#""userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/admin",
      "accountId": "111122223333", "userName": "admin", "principalId": "AIDA"},
      "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "sourceIPAddress": "1.2.3.4",
      "eventSource": "cloudtrail.amazonaws.com", "eventVersion": "1.08""#;
    let records = format!(
        r#"{{{admin}, "eventTime": "2026-11-09T00:00:00Z", "eventName": "CreateTrail",
      "eventID": "00000000-0000-4000-8000-000000000001",
      "requestParameters": {{"name": "management-trail", "s3BucketName": "b", "isMultiRegionTrail": true}},
      "responseElements": {{"name": "management-trail", "isMultiRegionTrail": true, "isOrganizationTrail": false,
        "trailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-trail"}}}},
      {{{admin}, "eventTime": "2026-11-12T09:00:00Z", "eventName": "StopLogging",
      "eventID": "00000000-0000-4000-8000-000000000002", "responseElements": null,
      "requestParameters": {{"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management-trail"}}}}"#
    );
    let path =
        "us-east-1/2026/11/12/111122223333_CloudTrail_us-east-1_20261112T0905Z_trail.json.gz";
    let logs = sample_with(dir.path(), &[(path, &records)]);
    let region = ["--region", "eu-west-1"];
    let (csv, text) = athena_csv(&py, &logs, &region, dir.path(), "region");
    assert!(
        text.contains("00000000-0000-4000-8000-000000000002"),
        "StopLogging kept"
    );
    let (direct, _) = analyze_json(&[logs.to_str().unwrap()]);
    let stop = direct["trail_changes"].to_string();
    assert!(stop.contains("StopLogging"), "{stop}");
    assert_same_with(&[], &csv, &logs);
}

/// `csv` with each `encryptionContext` object rewritten as CloudTrail
/// Lake's map-of-strings text, `{k=v, k2=v2}`.
fn lake_context(csv: &str) -> String {
    const OPEN: &str = "\"\"encryptionContext\"\":{";
    let (mut out, mut rest) = (String::new(), csv);
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let end = after.find('}').unwrap();
        let pairs: Vec<String> = after[..end]
            .split("\"\",\"\"")
            .map(|p| p.trim_matches('"').replacen("\"\":\"\"", "=", 1))
            .collect();
        out += "\"\"encryptionContext\"\":\"\"{";
        out += &pairs.join(", ");
        out += "}\"\"";
        rest = &after[end + 1..];
    }
    out + rest
}

#[test]
fn a_lake_encryption_context_in_text_leaves_the_caller_undetermined_not_blocked() {
    // Synthetic: a Deny unless the context names the vault. With the
    // context read, app-uploader's Decrypt (no vault in its context) would
    // lose access; with Lake's text form the context is unknown to
    // denydiff, so its decision is undetermined, not a loss.
    let dir = tempfile::tempdir().unwrap();
    let (_, direct) = round_trip(&[SAMPLE], &dir.path().join("calls.csv"));
    assert!(direct["inputs"]["kms_calls"].as_u64() > Some(0));
    let text = std::fs::read_to_string(dir.path().join("calls.csv")).unwrap();
    let lake = lake_context(&text);
    assert!(
        lake.contains("\"\"{aws:backup:backup-vault=prod-vault}\"\""),
        "no context rewritten"
    );
    std::fs::write(dir.path().join("lake.csv"), lake).unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
          {"Sid":"OnlyVaultContext","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",
           "Condition":{"Null":{"kms:EncryptionContext:aws:backup:backup-vault":"true"}}}]}"#,
    )
    .unwrap();
    let check = |table: &str| -> (Value, Option<i32>) {
        let out = run(
            &[
                "check",
                "--format",
                "json",
                "--policy",
                policy.to_str().unwrap(),
                "--key",
                "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
                dir.path().join(table).to_str().unwrap(),
            ],
            b"",
        );
        let v =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (v, out.status.code())
    };
    let callers = |v: &Value, list: &str| -> Vec<String> {
        v["keys"][0][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["caller"]["principal_arn"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    };
    let uploader = "arn:aws:iam::111122223333:role/app-uploader".to_owned();
    let (json, code) = check("calls.csv");
    assert_eq!(code, Some(3), "{json}");
    assert!(callers(&json, "lose").contains(&uploader), "{json}");
    let (lake, code) = check("lake.csv");
    assert!(!callers(&lake, "lose").contains(&uploader), "{lake}");
    assert!(callers(&lake, "undetermined").contains(&uploader), "{lake}");
    assert_eq!(code, Some(4), "{lake}");
}
