//! `--fetch-policy` through the real aws-sdk-kms client against a moto
//! server (started by `.ci/run`, which exports `DENYDIFF_MOTO_ENDPOINT`).

use std::process::Command;

use serde_json::{Value, json};

use crate::util::moto;

const ACCOUNT: &str = "123456789012"; // moto's account

fn deny_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Deny actions except Administrator", "Effect": "Deny", "Principal": "*",
         "Action": "kms:*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": [format!("arn:aws:iam::{ACCOUNT}:user/admin")]}}}]})
}

/// Creates a key with `policy` in moto through the real SDK; returns its ARN.
fn create_key(endpoint: &str, policy: &Value) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let creds = aws_sdk_kms::config::Credentials::new("testing", "testing", None, None, "test");
        let conf = aws_sdk_kms::config::Builder::new()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .build();
        let client = aws_sdk_kms::Client::from_conf(conf);
        let out = client
            .create_key()
            .policy(policy.to_string())
            .send()
            .await
            .expect("CreateKey on moto");
        out.key_metadata.unwrap().arn.unwrap()
    })
}

fn trail(key: &str) -> String {
    let rec = |id: u32, t: &str, err: Option<&str>| {
        let mut r = json!({"eventID": format!("00000000-0000-4000-8000-{id:012}"), "eventTime": t,
            "eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "awsRegion": "us-east-1",
            "recipientAccountId": ACCOUNT,
            "userIdentity": {"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"},
            "resources": [{"type": "AWS::KMS::Key", "ARN": key}]});
        if let Some(e) = err {
            r["errorCode"] = json!("AccessDenied");
            r["errorMessage"] = json!(e);
        }
        r
    };
    json!({"Records": [rec(1, "2026-11-10T01:00:00Z", None),
                       rec(2, "2026-11-11T01:00:00Z", Some("explicit deny in a resource-based policy"))]})
    .to_string()
}

fn analyze(endpoint: &str, trail_text: &str) -> (Value, std::process::Output) {
    let out = run_fetch_policy(endpoint, trail_text, &[]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out)
}

/// `analyze --format json --fetch-policy` on one trail file, plus `extra`.
fn run_fetch_policy(endpoint: &str, trail_text: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("trail.json");
    std::fs::write(&f, trail_text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_denydiff"))
        .args([
            "analyze",
            "--format",
            "json",
            "--fetch-policy",
            "--endpoint-url",
            endpoint,
        ])
        .args(extra)
        .arg(&f)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[test]
fn fetch_policy_from_kms_and_diagnose_with_it() {
    let Some(endpoint) = moto() else { return };
    let key = create_key(&endpoint, &deny_policy());
    let (v, out) = analyze(&endpoint, &trail(&key));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = &v["policies"][0];
    assert_eq!(
        (
            p["source"].as_str(),
            p["key_arn"].as_str(),
            p["current"].as_bool()
        ),
        (Some("api"), Some(key.as_str()), Some(true))
    );
    assert_eq!(p["statements"], 2);
    let b = &v["blocked"][0];
    assert_eq!(b["caller"]["invoked_by"], "backup-storage.amazonaws.com");
    assert_eq!(b["statement"]["sid"], "Deny actions except Administrator");
    assert_eq!(b["fixes"][0]["verified"], true);
}

#[test]
fn fetch_policy_errors_name_the_call_and_the_key() {
    let Some(endpoint) = moto() else { return };
    let missing =
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000");
    let (v, out) = analyze(&endpoint, &trail(&missing));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed fetch is a failed input"
    );
    let f = &v["failures"][0];
    assert_eq!(
        f["source"].as_str(),
        Some(format!("kms:GetKeyPolicy {missing}").as_str())
    );
    assert!(
        f["reason"].as_str().unwrap().contains("NotFoundException"),
        "{f}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint: check the name, the ARN"));
    // Without a policy the denial is unexplained, not blamed.
    assert_eq!(v["blocked"].as_array().unwrap().len(), 0);
    assert_eq!(v["unexplained"][0]["kind"], "no-policy");
    // With --strict the failed call stops the run: exit 2, no report.
    let strict = run_fetch_policy(&endpoint, &trail(&missing), &["--strict"]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(strict.stdout.is_empty());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("kms:GetKeyPolicy"));
}
