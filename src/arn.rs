//! The parts of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`),
//! borrowed from the text: the one place that splits one (IAM User Guide,
//! "IAM ARNs"). The resource keeps any further `:` and `/`.

/// An ARN's six parts; `region` and `account` may be empty (IAM and S3
/// ARNs have no region).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// `None` unless `text` starts with `arn:` and has six parts.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_refusals() {
        let a = Arn::parse("arn:aws:sts::111122223333:assumed-role/app/s:1").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            ("aws", "sts", "", "111122223333", "assumed-role/app/s:1")
        );
        assert_eq!(Arn::parse("arn:aws:iam::1"), None);
        assert_eq!(Arn::parse("alias/orders"), None);
        assert_eq!(Arn::parse("urn:aws:iam::1:role/x"), None);
    }
}
