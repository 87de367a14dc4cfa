//! UTF-8 -> `parse_policy`; a policy that parses is evaluated against fixed
//! requests, deterministically, and every Deny statement is patched for each
//! caller class. A patched document, printed, must parse again as exactly
//! the patched policy.
#![no_main]

use denydiff::policy::{
    BlockedCaller, Effect, FixKind, Outcome, Request, Tri, evaluate, parse_policy, patch,
};
use libfuzzer_sys::fuzz_target;

const ACCOUNT: &str = "111122223333";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ROLE: &str = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole";
const USER: &str = "arn:aws:iam::111122223333:user/bob";

fn requests() -> Vec<(Request, BlockedCaller)> {
    vec![
        (
            Request::service_principal("backup-storage.amazonaws.com", "kms:Decrypt", KEY),
            BlockedCaller::ServicePrincipal {
                service: "backup-storage.amazonaws.com".into(),
            },
        ),
        (
            Request::forward_access(
                ROLE,
                ACCOUNT,
                "backup.amazonaws.com",
                "eu-west-1",
                "kms:GenerateDataKey",
                KEY,
            ),
            BlockedCaller::ForwardAccess {
                service: "backup.amazonaws.com".into(),
                region: "eu-west-1".into(),
            },
        ),
        (
            Request::iam_principal(USER, ACCOUNT, "kms:Decrypt", KEY),
            BlockedCaller::Direct {
                principal_arn: USER.into(),
            },
        ),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = parse_policy(text) else {
        return;
    };
    for (request, caller) in requests() {
        let decision = evaluate(&policy, &request);
        assert_eq!(decision, evaluate(&policy, &request), "deterministic");
        assert_eq!(decision.statements.len(), policy.statements.len());
        if decision.outcome == Outcome::ExplicitDeny {
            assert_eq!(decision.explicit_deny(), Tri::True);
        }
        for s in policy.statements.iter().filter(|s| s.effect == Effect::Deny) {
            for kind in [FixKind::Broad, FixKind::Narrow] {
                let Ok(fix) = patch(&policy, s.index, &caller, kind) else {
                    continue;
                };
                // The document printed for the user is the policy that was
                // verified (serde_json's `float_roundtrip`: a long number
                // once read back 1 ULP off; fuzz/README.md, "Results").
                let again = parse_policy(&fix.document.to_string()).expect("patched policy parses");
                assert_eq!(again, fix.policy);
            }
        }
    }
});
