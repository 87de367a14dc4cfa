//! Trusting the evidence (docs/request-context.md), through the real binary:
//! session principals, multivalued keys under a bare operator, the network
//! keys of VPC endpoint calls (on a real third-party record), S3 Bucket Key
//! encryption context, and aliases resolved per region.

use std::io::Read;

use serde_json::{Value, json};

use crate::util::{analyze_json, run, shared, write};

const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// `explain --format json` of `subject` (an event, or with `--request` a
/// request) against `policy`: the report and the exit code.
fn explain(policy: &Value, subject: &Value, request: bool) -> (Value, i32) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "policy.json", policy.to_string().as_bytes());
    let s = write(dir.path(), "subject.json", subject.to_string().as_bytes());
    let mut args = vec!["explain", "--format", "json", "--policy", &p];
    if request {
        args.push("--request");
    }
    args.push(&s);
    let out = run(&args, b"");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

fn policy(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn allow_all() -> Value {
    json!({"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})
}

fn deny_if(condition: &Value) -> Value {
    json!({"Sid": "Guard", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
           "Resource": "*", "Condition": condition})
}

fn notes(v: &Value) -> Vec<&str> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

/// The condition traces of statement `sid`.
fn conditions<'a>(v: &'a Value, sid: &str) -> &'a Vec<Value> {
    let s = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sid"] == sid)
        .unwrap();
    s["conditions"].as_array().unwrap()
}

#[test]
fn session_principal_is_allowed_by_its_role_and_the_note_says_how() {
    let p = policy(&[json!({"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
        "Action": "kms:Decrypt", "Resource": "*"})]);
    let req = json!({"principal": "arn:aws:sts::111122223333:assumed-role/app/s1",
        "action": "kms:Decrypt", "resource": KEY});
    let (v, code) = explain(&p, &req, true);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    let note = notes(&v)
        .into_iter()
        .find(|n| n.contains("assumed-role session"))
        .unwrap_or_else(|| panic!("no session note: {v:#}"));
    assert!(
        note.contains("arn:aws:iam::111122223333:role/app"),
        "{note}"
    );
    assert!(note.contains("path"), "{note}");
    // Another role's session is not allowed.
    let other = json!({"principal": "arn:aws:sts::111122223333:assumed-role/other/s1",
        "action": "kms:Decrypt", "resource": KEY});
    let (v, code) = explain(&p, &other, true);
    assert_eq!((v["decision"].as_str(), code), (Some("implicit-deny"), 5));
}

#[test]
fn session_arn_given_as_principal_arn_is_read_as_the_role() {
    let p = policy(&[
        allow_all(),
        deny_if(
            &json!({"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"}}),
        ),
    ]);
    let req = json!({"principal": "arn:aws:sts::111122223333:assumed-role/app/s1",
        "action": "kms:Decrypt", "resource": KEY,
        "context": {"aws:PrincipalArn": "arn:aws:sts::111122223333:assumed-role/app/s1"}});
    let (v, code) = explain(&p, &req, true);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    let c = &conditions(&v, "Guard")[0];
    assert_eq!(
        c["seen"]["values"],
        json!(["arn:aws:iam::111122223333:role/app"])
    );
}

#[test]
fn multivalued_key_without_set_operator_is_undetermined_with_a_note() {
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"StringNotEquals": {"kms:EncryptionContextKeys": "AppName"}})),
    ]);
    let req = json!({"principal": "arn:aws:iam::111122223333:user/bob",
        "action": "kms:Decrypt", "resource": KEY,
        "context": {"kms:EncryptionContextKeys": ["AppName", "Tenant"]}});
    let (v, code) = explain(&p, &req, true);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("undetermined"), 4),
        "{v:#}"
    );
    let c = &conditions(&v, "Guard")[0];
    assert_eq!(c["result"], "unknown");
    let note = c["note"].as_str().expect("the condition carries a note");
    assert!(note.contains("multivalued"), "{note}");
    assert!(notes(&v).contains(&note), "{v:#}");
    // The key's values are all known: the generic "key the request does not
    // show" note would be wrong here.
    assert!(
        !notes(&v).iter().any(|n| n.contains("does not show")),
        "{v:#}"
    );
    // Under ForAllValues the same policy decides, without a note.
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": "AppName"}})),
    ]);
    let (v, code) = explain(&p, &req, true);
    assert_eq!((v["decision"].as_str(), code), (Some("explicit-deny"), 3));
    assert!(conditions(&v, "Guard")[0].get("note").is_none(), "{v:#}");
}

/// The real record: Secrets Manager generating a data key for an IAM user
/// (a forward access session) through VPC endpoint `vpce-0d985940f92611b87`,
/// `sourceIPAddress` the service's name (invictus-ir/aws_dataset, MIT; see
/// ../shared/real-samples/SOURCES.md).
fn real_vpce_record() -> Option<Value> {
    let dir = shared("real-samples/_selections")?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir.join("kms-service-denied.records.json.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let records = v.get("Records").unwrap_or(&v).as_array().unwrap().clone();
    let r = records
        .into_iter()
        .find(|r| r["eventID"] == "1fb0962b-8d29-4ea5-b0f3-b12665a99c40")
        .expect("the secretsmanager VPC endpoint record");
    Some(r)
}

#[test]
fn real_vpc_endpoint_record_has_source_vpce_and_no_source_ip() {
    let Some(record) = real_vpce_record() else {
        return;
    };
    assert_eq!(record["vpcEndpointId"], "vpce-0d985940f92611b87");
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"StringNotEquals": {"aws:SourceVpce": "vpce-0d985940f92611b87"}})),
    ]);
    let (v, code) = explain(&p, &record, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    assert_eq!(v["subject"]["caller_class"], "forward-access");
    // No aws:SourceIp with an endpoint: an IpAddress Deny does not apply.
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
    ]);
    let (v, code) = explain(&p, &record, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    assert_eq!(conditions(&v, "Guard")[0]["seen"]["state"], "absent");
    // aws:VpcSourceIp is the requester's address, which the record replaces
    // with the service's name: unknown.
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"IpAddress": {"aws:VpcSourceIp": "10.0.0.0/8"}})),
    ]);
    let (v, code) = explain(&p, &record, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("undetermined"), 4),
        "{v:#}"
    );
    assert_eq!(conditions(&v, "Guard")[0]["seen"]["state"], "unknown");
}

/// A direct call in CloudTrail's shape (synthetic values).
fn direct_call(source_ip: &str, vpce: Option<&str>, request: &Value) -> Value {
    let mut r = json!({"eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333",
            "userName": "bob"},
        "eventTime": "2026-03-01T10:00:00Z", "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt", "awsRegion": "eu-west-1", "sourceIPAddress": source_ip,
        "userAgent": "aws-cli/2.15.0", "requestParameters": request, "responseElements": null,
        "requestID": "0a1b2c3d-0000-4000-8000-000000000001",
        "eventID": "0a1b2c3d-0000-4000-8000-000000000002", "readOnly": true,
        "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY}],
        "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": "111122223333", "eventCategory": "Management"});
    if let Some(vpce) = vpce {
        r["vpcEndpointId"] = json!(vpce);
    }
    r
}

#[test]
fn direct_call_through_an_endpoint_has_vpc_source_ip() {
    let req = json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
    let through = direct_call("10.0.1.23", Some("vpce-1a2b3c"), &req);
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"NotIpAddress": {"aws:VpcSourceIp": "10.0.0.0/8"}})),
    ]);
    let (v, code) = explain(&p, &through, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    assert_eq!(
        conditions(&v, "Guard")[0]["seen"]["values"],
        json!(["10.0.1.23"])
    );
    // Without the endpoint the address is aws:SourceIp, and aws:VpcSourceIp
    // is absent (NotIpAddress on an absent key is true).
    let direct = direct_call("203.0.113.7", None, &req);
    let (v, code) = explain(&p, &direct, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("explicit-deny"), 3),
        "{v:#}"
    );
    let p = policy(&[
        allow_all(),
        deny_if(&json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
    ]);
    let (_, code) = explain(&p, &direct, false);
    assert_eq!(code, 3);
}

#[test]
fn s3_bucket_key_context_is_the_bucket_arn() {
    // S3 with a Bucket Key asks KMS under the bucket's ARN (synthetic record
    // in the shape of S3's forward access Decrypt calls).
    let mut r = direct_call(
        "s3.amazonaws.com",
        None,
        &json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::orders-bucket"}}),
    );
    r["userIdentity"]["invokedBy"] = json!("s3.amazonaws.com");
    let p = policy(&[json!({"Sid": "S3", "Effect": "Allow", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*", "Condition": {
            "StringEquals": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::orders-bucket",
                             "kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})]);
    let (v, code) = explain(&p, &r, false);
    assert_eq!(
        (v["decision"].as_str(), code),
        (Some("allowed"), 0),
        "{v:#}"
    );
    assert_eq!(v["subject"]["caller_class"], "forward-access");
    // The object's ARN would not match a bucket-level condition.
    r["requestParameters"]["encryptionContext"]["aws:s3:arn"] =
        json!("arn:aws:s3:::orders-bucket/2026/03/01/order.json");
    let (_, code) = explain(&p, &r, false);
    assert_eq!(code, 5);
}

/// A KMS record naming its key only as `alias/orders` (synthetic).
fn via_alias(name: &str, region: &str, time: &str, request: &Value, id: u32) -> Value {
    let mut r = direct_call("203.0.113.7", None, request);
    r["eventName"] = json!(name);
    r["awsRegion"] = json!(region);
    r["eventTime"] = json!(time);
    r["eventID"] = json!(format!("0a1b2c3d-0000-4000-8000-{id:012}"));
    r.as_object_mut().unwrap().remove("resources");
    r
}

#[test]
fn alias_arn_key_filter_selects_the_replica_of_its_region() {
    // Synthetic scenario: alias/orders names the multi-Region key mrk-1 in
    // us-east-1 and its replica in eu-west-1; the Decrypt records name only
    // the alias.
    let decrypt = json!({"keyId": "alias/orders", "encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
    let create = json!({"aliasName": "alias/orders", "targetKeyId": "mrk-1"});
    let records = [
        via_alias(
            "CreateAlias",
            "us-east-1",
            "2026-03-01T09:00:00Z",
            &create,
            1,
        ),
        via_alias(
            "CreateAlias",
            "eu-west-1",
            "2026-03-01T09:00:00Z",
            &create,
            2,
        ),
        via_alias("Decrypt", "eu-west-1", "2026-03-01T10:00:00Z", &decrypt, 3),
        via_alias("Decrypt", "eu-west-1", "2026-03-01T10:05:00Z", &decrypt, 4),
        via_alias("Decrypt", "us-east-1", "2026-03-01T10:00:00Z", &decrypt, 5),
    ];
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "trail.json",
        json!({"Records": records}).to_string().as_bytes(),
    );
    let calls = |key: &str| {
        let (v, out) = analyze_json(&[&f, "--key", key]);
        assert!(out.status.code().is_some_and(|c| c != 2), "{v:#}");
        v["inputs"]["kms_calls"].as_u64().unwrap()
    };
    // The CreateAlias records here have no `resources`: they name no key.
    assert_eq!(calls("arn:aws:kms:eu-west-1:111122223333:alias/orders"), 2);
    assert_eq!(calls("arn:aws:kms:eu-west-1:111122223333:key/mrk-1"), 2);
    assert_eq!(calls("arn:aws:kms:us-east-1:111122223333:alias/orders"), 1);
    assert_eq!(calls("alias/orders"), 3);
}
