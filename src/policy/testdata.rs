//! Shared fixtures for the policy tests: the seed incident and its callers.

use super::{Policy, Request, parse_policy};

pub(crate) const ACCOUNT: &str = "111122223333";
pub(crate) const KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub(crate) const ADMIN: &str = "arn:aws:iam::111122223333:user/admin";
pub(crate) const BOB: &str = "arn:aws:iam::111122223333:user/bob";
pub(crate) const BACKUP_ROLE: &str =
    "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole";

/// The seed incident's key policy, exactly as in the brief.
pub(crate) const SEED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Deny actions except Administrator","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalArn":["arn:aws:iam::111122223333:user/admin"]}}}]}"#;

pub(crate) fn seed() -> Policy {
    parse_policy(SEED).expect("seed policy parses")
}

/// AWS Backup's storage service principal decrypting.
pub(crate) fn backup_storage() -> Request {
    Request::service_principal("backup-storage.amazonaws.com", "kms:Decrypt", KEY)
}

/// AWS Backup acting for its service role (forward access session).
pub(crate) fn backup_fas() -> Request {
    Request::forward_access(
        BACKUP_ROLE,
        ACCOUNT,
        "backup.amazonaws.com",
        "eu-west-1",
        "kms:Decrypt",
        KEY,
    )
}

pub(crate) fn admin() -> Request {
    Request::iam_principal(ADMIN, ACCOUNT, "kms:Decrypt", KEY)
}

/// An IAM user of the same account that is not on the exception list.
pub(crate) fn bob() -> Request {
    Request::iam_principal(BOB, ACCOUNT, "kms:Decrypt", KEY)
}
