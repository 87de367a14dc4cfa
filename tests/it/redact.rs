//! `--redact` on a SYNTHETIC incident (record shapes from
//! `../shared/real-samples`; public data has no KMS denials) full of what
//! identifies a company: two accounts, role and user names, a session named
//! by an e-mail address, an access key id, IPv4 and IPv6 addresses and a
//! CIDR, an S3 bucket, encryption-context values, in the records, in AWS's
//! error messages, in the key policy and so in the fixes' diffs. No
//! original value may appear in any format; the same value gets the same
//! pseudonym in every format.

use serde_json::{Value, json};

use crate::util::{run, shared, stdout};
use crate::verdicts::{ACCT, KEY, Trail, user};

const PARTNER: &str = "444455556666";

/// What must not survive redaction.
const SECRETS: [&str; 16] = [
    ACCT,
    PARTNER,
    "feedface-0000-4000-8000-000000000001",
    "payments-batch",
    "partner-etl",
    "break-glass-ops",
    "alice@example-corp.com",
    "example-corp",
    "AKIAQWERTYUIOPASDFGH",
    "198.51.100.23",
    "2a02:6b8::feed:1",
    "203.0.113.0",
    "acme-payroll-exports",
    "globex-tenant-9",
    "acme-corp-tenant-7",
    "admin",
];

/// What redaction keeps: AWS's words and the policy's grammar.
const KEPT: [&str; 6] = [
    "kms:EncryptionContext:tenant",
    "aws:SourceIp",
    "NotIpAddress",
    "StringNotEquals",
    "Decrypt",
    "AccessDeniedException",
];

fn role(name: &str, account: &str, session: &str) -> Value {
    json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
           "accountId": account, "accessKeyId": "ASIAQWERTYUIOPASDFGH",
           "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/{name}")}}})
}

/// A trail whose key policy is the root delegation at 00:00, and that
/// plus `deny` from 02:00.
pub(crate) fn deny_added(deny: &Value) -> Trail {
    deny_added_by(deny, "admin")
}

/// [`deny_added`], the policies put by IAM user `admin`.
fn deny_added_by(deny: &Value, admin: &str) -> Trail {
    let root = json!({"Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"});
    let mut t = Trail::default();
    for (hour, statements) in [(0, json!([root])), (2, json!([root, deny]))] {
        let p = json!({"Version": "2012-10-17", "Statement": statements});
        let req = json!({"keyId": KEY, "policyName": "default", "policy": p.to_string()});
        t.add(
            hour,
            "kms.amazonaws.com",
            "PutKeyPolicy",
            user(admin),
            req,
            None,
        );
    }
    t
}

/// `who` calls `Decrypt` with `context` at 01:00 (it succeeds) and at
/// 03:00 (denied, AWS saying `message`).
pub(crate) fn decrypt_then_denied(t: &mut Trail, who: &Value, context: &Value, message: &str) {
    for (hour, denied) in [(1, false), (3, true)] {
        let error = denied.then_some(("AccessDeniedException", message));
        let req = json!({"keyId": KEY, "encryptionContext": context});
        t.add(
            hour,
            "kms.amazonaws.com",
            "Decrypt",
            who.clone(),
            req,
            error,
        );
    }
}

/// A Deny for calls outside the tenant, the office network and the
/// payroll bucket, except a break-glass role; two roles succeed at 01:00
/// and are denied at 03:00.
fn trail() -> Trail {
    let deny = json!({"Sid": "TenantOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
        "Resource": "*", "Condition": {
            "StringNotEquals": {"kms:EncryptionContext:tenant": "acme-corp-tenant-7",
                                "aws:PrincipalArn": format!("arn:aws:iam::{ACCT}:role/break-glass-ops")},
            "NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"},
            "ArnNotLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::acme-payroll-exports/*"}}});
    let mut t = deny_added(&deny);
    let callers = [
        (
            role("payments-batch", ACCT, "alice@example-corp.com"),
            "198.51.100.23",
        ),
        (role("partner-etl", PARTNER, "etl"), "2a02:6b8::feed:1"),
    ];
    for (who, ip) in callers {
        let arn = who["arn"].as_str().unwrap().to_owned();
        let msg = format!(
            "User: {arn} is not authorized to perform: kms:Decrypt on resource: {KEY} with an \
             explicit deny in a resource-based policy (access key AKIAQWERTYUIOPASDFGH)"
        );
        decrypt_then_denied(&mut t, &who, &json!({"tenant": "globex-tenant-9"}), &msg);
        let n = t.records.len();
        for r in &mut t.records[n - 2..] {
            r["sourceIPAddress"] = json!(ip);
        }
    }
    t
}

fn report(file: &str, format: &str) -> String {
    let out = run(&["analyze", "--redact", "--format", format, file], b"");
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::stderr(&out));
    stdout(&out)
}

#[test]
fn no_original_value_survives_in_any_format_and_pseudonyms_agree() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synthetic-trail.json");
    std::fs::write(&file, json!({"Records": trail().records}).to_string()).unwrap();
    let file = file.to_str().unwrap();
    // The scenario is what it claims: without --redact, the secrets are there.
    let plain = stdout(&run(&["analyze", "--format", "json", file], b""));
    for s in SECRETS {
        assert!(plain.contains(s), "the unredacted report lacks `{s}`");
    }
    let json = report(file, "json");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["redacted"], true);
    // Event ids name events, not the company: kept, so AWS support can find them.
    let plain: Value = serde_json::from_str(&plain).unwrap();
    assert!(plain.get("redacted").is_none());
    assert_eq!(v["causes"][0]["event_id"], plain["causes"][0]["event_id"]);
    assert!(v["causes"][0]["event_id"].is_string());
    let blocked = v["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 2, "{blocked:#?}");
    let fixes = v["causes"][0]["fixes"].as_array().unwrap();
    assert!(!fixes.is_empty(), "the scenario has fixes, so diffs");
    let role = blocked[0]["caller"]["principal_arn"].as_str().unwrap();
    let key = v["causes"][0]["key_arn"].as_str().unwrap();
    // `role/role-1` as the text reports shorten it.
    let short_role = role.rsplit(':').next().unwrap();
    for format in ["json", "table", "markdown", "html"] {
        let text = if format == "json" {
            json.clone()
        } else {
            report(file, format)
        };
        for s in SECRETS {
            assert!(!text.contains(s), "`{s}` survives in the {format} report");
        }
        for k in KEPT {
            assert!(text.contains(k), "`{k}` is gone from the {format} report");
        }
        assert!(text.contains(short_role), "{format}: no `{short_role}`");
        assert!(text.contains(key), "{format}: the key is not `{key}`");
        let says = text.to_lowercase().contains("redacted");
        assert!(says, "{format} does not say it is redacted");
    }
    // The same input gives the same pseudonyms again.
    assert_eq!(report(file, "json"), json);
}

/// The 12-digit words of `text`: account ids.
fn accounts(text: &str) -> std::collections::BTreeSet<&str> {
    let b = text.as_bytes();
    let mut out = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let before = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let after = b.get(i + n).is_none_or(|c| !c.is_ascii_alphanumeric());
        if n == 12 && before && after {
            out.insert(&text[i..i + n]);
        }
        i += n.max(1);
    }
    out
}

#[test]
fn no_account_of_the_real_samples_survives() {
    let Some(dir) = shared("real-samples") else {
        return;
    };
    let dir = dir.to_str().unwrap();
    let plain = stdout(&run(&["analyze", "-q", "--format", "json", dir], b""));
    let found = accounts(&plain);
    assert!(found.len() > 5, "the samples name accounts: {found:?}");
    for format in ["json", "table", "markdown", "html"] {
        let out = run(&["analyze", "-q", "--redact", "--format", format, dir], b"");
        let text = stdout(&out);
        assert!(text.len() > 1000, "{format}: a report");
        let left: Vec<&&str> = found.iter().filter(|a| text.contains(**a)).collect();
        assert!(left.is_empty(), "{format}: accounts left {left:?}");
    }
}

/// The bundled sample (real record shapes, a synthetic incident).
fn sample_trail() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample-logs/incident-2026-11-backup-vault/AWSLogs"
    )
    .to_owned()
}

#[test]
fn alias_names_get_pseudonyms_and_aws_aliases_stay() {
    let trail = sample_trail();
    let alias = "alias/prod-backup-vault";
    let plain = stdout(&run(
        &["analyze", "--key", alias, "--format", "json", &trail],
        b"",
    ));
    assert!(
        plain.contains(alias),
        "the unredacted report names the alias"
    );
    for format in ["json", "table", "markdown", "html"] {
        let args = [
            "analyze", "--redact", "--key", alias, "--format", format, &trail,
        ];
        let text = stdout(&run(&args, b""));
        assert!(
            !text.contains("prod-backup-vault"),
            "{format}: the alias survives"
        );
        // The page lists no verdict for a key without events.
        let named = format == "html" || text.contains("alias/alias-1");
        assert!(named, "{format}: no `alias/alias-1`");
    }
    // The filters' failure quotes `--key`: redacted too.
    let args = [
        "analyze",
        "--redact",
        "--key",
        alias,
        "--since",
        "2027-01-01",
        "--format",
        "json",
    ];
    let out = run(&[&args[..], &[trail.as_str()]].concat(), b"");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let reason = v["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("`--key alias/alias-1`"), "{reason}");
    assert!(!stdout(&out).contains("prod-backup-vault"));
    // AWS managed keys' aliases say which service; they are kept.
    let args = [
        "analyze",
        "--redact",
        "--key",
        "alias/aws/backup",
        "--format",
        "json",
    ];
    let text = stdout(&run(&[&args[..], &[trail.as_str()]].concat(), b""));
    assert!(
        text.contains("\"alias/aws/backup\""),
        "`alias/aws/backup` is gone"
    );
}

/// What the conditions of [`named_in_conditions`] name: none has a shape
/// of its own, the condition key says what it is.
const IN_CONDITIONS: [&str; 8] = [
    "carol.ops",
    "zeta-squad",
    "444455556666",
    "vpc-0a1b2c3d",
    "vpce-0a1b2c3d4e5f60718",
    "o-zz9secretorg",
    "AROAQWERTYUIOPASDFGH:deploy-bot",
    "tenant-omega",
];

/// SYNTHETIC: a Deny whose conditions name a user (who also put the
/// policy, so the same name is in an ARN), a tag value, an account, a VPC,
/// a VPC endpoint, an organization, a role session and an encryption
/// context value; a role succeeds at 01:00 and is denied at 03:00.
#[test]
fn names_inside_conditions_get_pseudonyms_in_every_format() {
    let deny = json!({"Sid": "OnlyTheTeam", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {
            "StringNotEquals": {"aws:username": ["carol.ops"], "aws:PrincipalTag/team": ["zeta-squad"],
                                "aws:PrincipalAccount": "444455556666", "aws:SourceVpc": "vpc-0a1b2c3d",
                                "aws:PrincipalOrgID": "o-zz9secretorg",
                                "aws:userid": "AROAQWERTYUIOPASDFGH:deploy-bot"},
            "StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60718",
                                        "kms:EncryptionContext:tenant": "tenant-omega"}}});
    let mut t = deny_added_by(&deny, "carol.ops");
    let who = role("payments-batch", ACCT, "batch");
    // Only the last net knows this one is a name: it is a user's elsewhere.
    let msg =
        "User: is not authorized to perform: kms:Decrypt with an explicit deny (ask carol.ops)";
    decrypt_then_denied(&mut t, &who, &json!({"tenant": "tenant-sigma"}), msg);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synthetic-trail.json");
    std::fs::write(&file, json!({"Records": t.records}).to_string()).unwrap();
    let file = file.to_str().unwrap();
    let plain = stdout(&run(&["analyze", "--format", "json", file], b""));
    for s in IN_CONDITIONS {
        assert!(plain.contains(s), "the unredacted report lacks `{s}`");
    }
    for format in ["json", "table", "markdown", "html"] {
        let text = report(file, format);
        for s in IN_CONDITIONS
            .iter()
            .chain(&["deploy-bot", "zz9secretorg", "tenant-sigma"])
        {
            assert!(!text.contains(s), "`{s}` survives in the {format} report");
        }
        // The condition and the ARN name the user alike.
        for same in ["aws:username", "user/user-1"] {
            assert!(text.contains(same), "{format}: no `{same}`");
        }
        let user = [
            "[user-1]",
            "&quot;user-1&quot;",
            "\\\"user-1\\\"",
            "\"user-1\"",
        ];
        assert!(
            user.iter().any(|u| text.contains(u)),
            "{format}: no `user-1` value"
        );
    }
}

/// SYNTHETIC: a Deny for calls from outside two CIDR blocks; the role
/// calls from 172.16.0.5, outside both, so the Deny matches.
#[test]
fn a_cidr_block_is_one_unit_and_no_address_reads_as_inside_it() {
    let deny = json!({"Sid": "OfficeOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
        "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2a02:6b8:abcd::/48"]}}});
    let mut t = deny_added(&deny);
    let who = role("payments-batch", ACCT, "batch");
    let msg = "User: is not authorized to perform: kms:Decrypt with an explicit deny";
    decrypt_then_denied(&mut t, &who, &json!({}), msg);
    for r in &mut t.records {
        r["sourceIPAddress"] = json!("172.16.0.5");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("synthetic-trail.json");
    std::fs::write(&file, json!({"Records": t.records}).to_string()).unwrap();
    let file = file.to_str().unwrap();
    let plain = stdout(&run(&["analyze", "--format", "table", file], b""));
    assert!(
        plain.contains("[10.0.0.0/8, 2a02:6b8:abcd::/48]: seen `172.16.0.5` -> true"),
        "{plain}"
    );
    for format in ["json", "table", "markdown", "html"] {
        let text = report(file, format);
        for s in ["10.0.0.0", "172.16.0.5", "2a02:6b8:abcd", "/8", "/48"] {
            assert!(!text.contains(s), "`{s}` survives in the {format} report");
        }
        assert!(
            text.contains("cidr-1") && text.contains("cidr-2"),
            "{format}"
        );
    }
    // The evidence still reads true: an address outside blocks that are
    // no addresses (an address pseudonym with the block's mask, `192.0.2.1/8`
    // beside `seen 192.0.2.2`, said the opposite).
    let table = report(file, "table");
    let line = table.lines().find(|l| l.contains("evidence: NotIpAddress"));
    let line = line.expect("an evidence line");
    assert!(line.contains("[cidr-1, cidr-2]: seen `192.0.2."), "{line}");
    assert!(line.ends_with("-> true"), "{line}");
}

#[test]
fn export_calls_with_redact_is_a_usage_error_and_writes_nothing() {
    // The reduced table is raw data; `--redact` would not reach it.
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("calls.csv");
    let trail = sample_trail();
    let o = run(
        &[
            "analyze",
            "--redact",
            "--export-calls",
            table.to_str().unwrap(),
            &trail,
        ],
        b"",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--export-calls") && err.contains("--redact"),
        "{err}"
    );
    assert!(!table.exists(), "an unredacted table was written");
}
