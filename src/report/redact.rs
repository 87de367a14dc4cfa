//! `--redact`: stable pseudonyms for what identifies a company, in every
//! format.
//!
//! Two passes. First every string of the [`Analysis`] is rewritten in
//! place ([`Redactor::redact`]), in the analysis's own order, so each value
//! gets the same pseudonym in every format of the same input, and renderers
//! that shorten names (`role/x@account`, a cell cut to 34 characters) only
//! ever see pseudonyms. Then the rendered document goes through the same
//! rewriting ([`Redactor::text`]) as a net for anything the first pass
//! did not reach, and every original value the first pass named is
//! replaced wherever it stands as a whole token (`net`): a user's name
//! has no shape, so an AWS message quoting it is only caught there.
//! Pseudonyms pass through unchanged.
//!
//! Replaced: account ids, IAM user, role, group and session names (and
//! their paths), access key and unique ids (`AKIA...`, `AROA...`), IPv4
//! and IPv6 addresses and CIDR blocks (as one unit), organization, VPC, VPC endpoint and instance ids, KMS key ids and alias names, S3 bucket and object
//! names, other ARNs' resource names, trail names, encryption-context
//! values, e-mail addresses, and local file paths (to their file name).
//! Kept: partitions, services, regions, AWS service principals
//! (`*.amazonaws.com`), actions and event names, condition keys and
//! operators, error codes, event ids (random, and what AWS support asks
//! for), grant ids, AWS-managed names (`aws-service-role/`,
//! `AWSServiceRoleFor...`, `alias/aws/...`, `arn:aws:iam::aws:policy/...`)
//! and denydiff's own probe principals.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::analysis::Analysis;

/// What a redacted report says of itself (a line, a banner, a JSON field's doc).
pub const NOTICE: &str = "Redacted (--redact): account ids, IAM names, access key ids, IP \
addresses, key ids, resource names, encryption-context values and e-mail addresses are \
replaced by stable pseudonyms; service principals, actions, condition keys, operators and \
error codes are kept";

mod conditions;
mod net;
mod walk;

/// The prefix of condition keys whose values are encryption context.
const CONTEXT_KEY: &str = "kms:EncryptionContext:";

/// What a value names, which says how its pseudonym looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Account,
    Key,
    Mrk,
    Org,
    Vpc,
    Vpce,
    Instance,
    Ip,
    Ip6,
    Cidr,
    Email,
    /// An IAM unique id or access key id, by its four-letter prefix (`AKIA`).
    UniqueId(&'static str),
    Bucket,
    Object,
    Resource,
    User,
    Role,
    Group,
    Policy,
    Profile,
    Trail,
    Alias,
    Name,
    Session,
    Context,
    Ou,
    UserId,
    OrgPath,
    Identity,
    Tag,
}

impl Kind {
    /// The word a pseudonym without a shape of its own starts with
    /// (`user-1`), also the order [`net::Net`] prefers kinds in.
    fn label(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Key => "key",
            Self::Mrk => "mrk",
            Self::Org => "o",
            Self::Vpc => "vpc",
            Self::Vpce => "vpce",
            Self::Instance => "i",
            Self::Ip => "ip",
            Self::Ip6 => "ip6",
            Self::Cidr => "cidr",
            Self::Email => "email",
            Self::UniqueId(prefix) => prefix,
            Self::Bucket => "bucket",
            Self::Object => "object",
            Self::Resource => "resource",
            Self::User => "user",
            Self::Role => "role",
            Self::Group => "group",
            Self::Policy => "policy",
            Self::Profile => "profile",
            Self::Trail => "trail",
            Self::Alias => "alias",
            Self::Name => "name",
            Self::Session => "session",
            Self::Context => "context",
            Self::Ou => "ou",
            Self::UserId => "userid",
            Self::OrgPath => "orgpath",
            Self::Identity => "identity",
            Self::Tag => "tag",
        }
    }

    /// Whether the scan finds values of this kind by their shape anywhere
    /// (ids, addresses), or they are path segments that are rarely a name
    /// (an S3 object's `2026`, `AWSLogs`): [`net::Net`] leaves them out.
    fn shaped(self) -> bool {
        matches!(
            self,
            Self::Account
                | Self::Key
                | Self::Mrk
                | Self::Org
                | Self::Vpc
                | Self::Vpce
                | Self::Instance
                | Self::Ip
                | Self::Ip6
                | Self::Object
        )
    }
}

/// Pseudonyms by kind and original value, assigned in order of first sight.
#[derive(Debug, Default)]
pub struct Redactor {
    names: HashMap<(Kind, String), String>,
    counts: HashMap<Kind, usize>,
    pseudonyms: HashSet<String>,
    /// Event ids: UUID-shaped, kept.
    keep: HashSet<String>,
    /// Encryption-context values and their pseudonyms, in order.
    context: Vec<(String, String)>,
    memo: HashMap<String, String>,
    /// Set once the analysis is rewritten: from then on [`Self::text`]
    /// also replaces every original value already named ([`net::Net`]).
    net: Option<net::Net>,
}

impl Redactor {
    /// Rewrites every string of `a`; returns the redactor for [`Self::text`].
    pub fn redact(a: &mut Analysis) -> Self {
        let mut r = Self::default();
        r.gather(a);
        r.analysis(a);
        r.seal();
        r
    }

    /// Turns the net on: what the analysis named is now known, and the
    /// memo of the first pass (made without the net) is dropped.
    fn seal(&mut self) {
        self.memo.clear();
        self.net = Some(net::Net::new(self.names.iter(), self.names.len()));
    }

    /// The pseudonym of `value` as a `kind`, made on first sight.
    fn name(&mut self, kind: Kind, value: &str) -> String {
        if self.pseudonyms.contains(value) {
            return value.to_owned();
        }
        if let Some(p) = self.names.get(&(kind, value.to_owned())) {
            return p.clone();
        }
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        let n = *n;
        let p = match kind {
            Kind::Account => format!("{n:012}"),
            Kind::Key => format!("00000000-0000-0000-0000-{n:012}"),
            Kind::Mrk => format!("mrk-{n:032}"),
            Kind::Org => format!("o-{n:010}"),
            Kind::Vpc | Kind::Vpce | Kind::Instance => format!("{}-{n:017x}", kind.label()),
            Kind::Ip => ipv4(n),
            Kind::Ip6 => format!("2001:db8::{n:x}"),
            Kind::Email => format!("user-{n}@example.com"),
            Kind::UniqueId(prefix) => format!("{prefix}EXAMPLE{n:09}"),
            k => format!("{}-{n}", k.label()),
        };
        self.names.insert((kind, value.to_owned()), p.clone());
        self.pseudonyms.insert(p.clone());
        p
    }

    /// Rewrites a text: encryption-context values in their quoted forms,
    /// e-mail addresses, then ARNs, `s3://` buckets, UUIDs, access key
    /// ids, IP addresses and account ids.
    pub fn text(&mut self, s: &str) -> String {
        if let Some(done) = self.memo.get(s) {
            return done.clone();
        }
        let mut out = s.to_owned();
        for (value, p) in &self.context {
            for (from, to) in quoted_forms(value, p) {
                if out.contains(&from) {
                    out = out.replace(&from, &to);
                }
            }
        }
        if out.contains('@') {
            out = self.emails(&out);
        }
        out = self.scan(&out);
        if let Some(net) = &self.net {
            if net.size != self.names.len() {
                self.net = Some(net::Net::new(self.names.iter(), self.names.len()));
            }
            if let Some(net) = &self.net {
                out = net.apply(&out);
            }
        }
        if s.len() < 512 {
            self.memo.insert(s.to_owned(), out.clone());
        }
        out
    }

    fn emails(&mut self, s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        let mut i = 0;
        while let Some(at) = s[i..].find('@').map(|k| k + i) {
            let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
            let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
            let mut start = at;
            while start > last && local(b[start - 1]) {
                start -= 1;
            }
            let mut end = at + 1;
            while end < b.len() && domain(b[end]) {
                end += 1;
            }
            while end > at + 1 && b[end - 1] == b'.' {
                end -= 1;
            }
            let host = &s[at + 1..end];
            let tld_ok = host
                .rsplit_once('.')
                .is_some_and(|(_, t)| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic()));
            if start < at && tld_ok {
                out.push_str(&s[last..start]);
                out.push_str(&self.name(Kind::Email, &s[start..end]));
                last = end;
            }
            i = end.max(at + 1);
        }
        out.push_str(&s[last..]);
        out
    }

    /// One pass over `s`, trying each shape at each token start.
    fn scan(&mut self, s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        let mut i = 0;
        while i < b.len() {
            let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if !boundary || !b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            if let Some((end, with)) = self.token(s, i) {
                out.push_str(&s[last..i]);
                out.push_str(&with);
                last = end;
                i = end;
            } else {
                // Skip the rest of the word: shapes start at word starts.
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
        }
        out.push_str(&s[last..]);
        out
    }

    /// The token of a known shape starting at `i`: its end and pseudonym.
    fn token(&mut self, s: &str, i: usize) -> Option<(usize, String)> {
        let rest = &s[i..];
        if rest.starts_with("arn:") {
            let end = i + arn_len(rest);
            return Some((end, self.arn(&s[i..end])));
        }
        if let Some(bucket) = rest.strip_prefix("s3://") {
            let n = bucket
                .find(|c: char| c == '/' || !is_name_char(c))
                .unwrap_or(bucket.len());
            if n > 0 {
                let p = self.name(Kind::Bucket, &bucket[..n]);
                return Some((i + 5 + n, format!("s3://{p}")));
            }
        }
        if let Some(name) = rest.strip_prefix("alias/") {
            let n = alias_len(name);
            if n > 0 {
                return Some((i + 6 + n, format!("alias/{}", self.alias(&name[..n]))));
            }
        }
        let word_end = |n: usize| {
            s.as_bytes()
                .get(i + n)
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        };
        let head = rest.get(..36).unwrap_or("");
        if is_uuid(head) && word_end(36) {
            if self.keep.contains(head) {
                return Some((i + 36, head.to_owned()));
            }
            return Some((i + 36, self.name(Kind::Key, head)));
        }
        if head.starts_with("mrk-")
            && head[4..].bytes().all(|c| c.is_ascii_hexdigit())
            && word_end(36)
        {
            return Some((i + 36, self.name(Kind::Mrk, head)));
        }
        if let Some(n) = unique_id_len(rest) {
            let kind = unique_id_kind(&rest[..4]);
            return Some((i + n, self.name(kind, &rest[..n])));
        }
        if let Some((kind, n)) = prefixed_id(rest) {
            return Some((i + n, self.name(kind, &rest[..n])));
        }
        let run = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
            .unwrap_or(rest.len());
        if let Some(n) = cidr_len(rest, run).filter(|&n| word_end(n)) {
            let block = &rest[..n];
            // Everything: no address, nothing to hide.
            if block == "0.0.0.0/0" || block == "::/0" {
                return Some((i + n, block.to_owned()));
            }
            return Some((i + n, self.name(Kind::Cidr, block)));
        }
        let cand = rest[..run].trim_end_matches(['.', ':']);
        if cand.contains(':') && cand.parse::<Ipv6Addr>().is_ok() {
            return Some((i + cand.len(), self.name(Kind::Ip6, cand)));
        }
        if cand.bytes().all(|c| c.is_ascii_digit() || c == b'.') && cand.parse::<Ipv4Addr>().is_ok()
        {
            return Some((i + cand.len(), self.name(Kind::Ip, cand)));
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 12 && word_end(12) && &rest[..12] != "000000000000" {
            return Some((i + 12, self.name(Kind::Account, &rest[..12])));
        }
        None
    }

    /// An ARN with its account and resource names replaced.
    fn arn(&mut self, arn: &str) -> String {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, partition, service, region, account, resource] = parts[..] else {
            return arn.to_owned();
        };
        let account_out = if account.len() == 12 && account.bytes().all(|c| c.is_ascii_digit()) {
            if account == "000000000000" {
                account.to_owned()
            } else {
                self.name(Kind::Account, account)
            }
        } else {
            // `aws` (managed policies), empty (S3), or already a pseudonym.
            account.to_owned()
        };
        let resource_out = if account == "aws" {
            resource.to_owned()
        } else {
            self.resource(service, resource)
        };
        format!("arn:{partition}:{service}:{region}:{account_out}:{resource_out}")
    }

    fn resource(&mut self, service: &str, resource: &str) -> String {
        let sep = if resource.contains('/') { '/' } else { ':' };
        let segs: Vec<&str> = resource.split(sep).collect();
        let mut out: Vec<String> = Vec::with_capacity(segs.len());
        match (service, segs.as_slice()) {
            ("s3", [bucket, objects @ ..]) => {
                out.push(self.name(Kind::Bucket, bucket));
                for o in objects {
                    out.push(self.segment(Kind::Object, o));
                }
            }
            ("kms", ["key", id]) if is_uuid(id) || id.starts_with("mrk-") => {
                out.push("key".into());
                let kind = if is_uuid(id) { Kind::Key } else { Kind::Mrk };
                out.push(if self.pseudonyms.contains(*id) {
                    (*id).to_owned()
                } else {
                    self.name(kind, id)
                });
            }
            ("kms", ["alias", "aws", ..]) | (_, []) => return resource.to_owned(),
            ("kms", ["alias", ..]) => {
                let name = &resource["alias/".len()..];
                return format!("alias/{}", self.alias(name));
            }
            (_, [single]) if matches!(*single, "root" | "*") => return resource.to_owned(),
            (_, [single]) => out.push(self.segment(Kind::Resource, single)),
            (_, [kind, names @ ..]) => {
                out.push((*kind).to_owned());
                let prefix = match *kind {
                    "user" => Kind::User,
                    "role" => Kind::Role,
                    "group" => Kind::Group,
                    "policy" => Kind::Policy,
                    "instance-profile" => Kind::Profile,
                    "trail" => Kind::Trail,
                    "key" => Kind::Key,
                    "alias" => Kind::Alias,
                    _ => Kind::Name,
                };
                for (n, name) in names.iter().enumerate() {
                    let prefix = if *kind == "assumed-role" {
                        if n + 1 == names.len() {
                            Kind::Session
                        } else {
                            Kind::Role
                        }
                    } else {
                        prefix
                    };
                    out.push(self.segment(prefix, name));
                }
            }
        }
        out.join(&sep.to_string())
    }

    /// An alias name (after `alias/`), replaced whole, unless AWS's own
    /// (`aws/...`, the aliases of AWS managed keys).
    fn alias(&mut self, name: &str) -> String {
        if name.starts_with("aws/") {
            name.to_owned()
        } else {
            self.name(Kind::Alias, name)
        }
    }

    /// One name of a resource path, unless AWS's or denydiff's own.
    fn segment(&mut self, kind: Kind, s: &str) -> String {
        let aws = matches!(
            s,
            "" | "*" | "service-role" | "aws-service-role" | "aws-reserved"
        ) || s.ends_with(".amazonaws.com")
            || s.starts_with("AWSServiceRoleFor")
            || is_region(s)
            || s.starts_with("denydiff-probe");
        if aws {
            s.to_owned()
        } else {
            self.name(kind, s)
        }
    }

    /// A value of an encryption-context condition key: an ARN keeps its
    /// shape, anything else is replaced whole.
    fn context_value(&mut self, v: &str) -> String {
        if v.starts_with("arn:") {
            return self.text(v);
        }
        self.name(Kind::Context, v)
    }
}

/// How a value shows in a rendered document, and its pseudonym in the
/// same form: JSON-quoted (policies, diffs), HTML-escaped JSON-quoted,
/// and in backticks (the reports' words).
fn quoted_forms(value: &str, p: &str) -> [(String, String); 4] {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let html = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
    };
    [
        (json(value), json(p)),
        (html(&json(value)), html(&json(p))),
        (format!("`{value}`"), format!("`{p}`")),
        (html(&format!("`{value}`")), format!("`{p}`")),
    ]
}

/// The length of the CIDR block `s` starts with, its address being
/// `s[..run]`: replaced as one unit (`cidr-N`), so that no address
/// pseudonym reads as inside or outside a range it is not.
fn cidr_len(s: &str, run: usize) -> Option<usize> {
    let mask = s[run..].strip_prefix('/')?;
    let digits = mask.bytes().take_while(u8::is_ascii_digit).count();
    let bits: u32 = mask.get(..digits)?.parse().ok()?;
    let addr = &s[..run];
    let v4 = addr.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && addr.parse::<Ipv4Addr>().is_ok()
        && bits <= 32;
    let v6 = addr.contains(':') && addr.parse::<Ipv6Addr>().is_ok() && bits <= 128;
    (v4 || v6).then_some(run + 1 + digits)
}

/// `192.0.2.N`, then the other documentation ranges (RFC 5737), then `ip-N`.
fn ipv4(n: usize) -> String {
    match n {
        1..=254 => format!("192.0.2.{n}"),
        255..=508 => format!("198.51.100.{}", n - 254),
        509..=762 => format!("203.0.113.{}", n - 508),
        _ => format!("ip-{n}"),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// How far an ARN runs in `s` (which starts with `arn:`).
fn arn_len(s: &str) -> usize {
    let end = s
        .find(|c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '\''
                        | '`'
                        | ','
                        | '['
                        | ']'
                        | '('
                        | ')'
                        | '<'
                        | '>'
                        | '|'
                        | ';'
                        | '\\'
                        | '{'
                        | '}'
                        | '&'
                )
        })
        .unwrap_or(s.len());
    s[..end].trim_end_matches('.').len()
}

/// How far an alias name (after `alias/`) runs: letters, digits, `/`,
/// `_` and `-`, without a trailing `/`.
fn alias_len(s: &str) -> usize {
    let n = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')))
        .unwrap_or(s.len());
    s[..n].trim_end_matches('/').len()
}

/// A region's code (`us-west-2`, `us-gov-east-1`, `eu-isoe-west-1`): AWS's
/// word, in IAM Identity Center roles' paths (`aws-reserved/sso.amazonaws.com/us-west-2/`).
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && words[0].len() == 2
        && words
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|c| c.is_ascii_digit())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An organization id (`o-` and 10 to 32 lower-case letters or digits),
/// a VPC, VPC endpoint or EC2 instance id (`vpc-`, `vpce-`, `i-` and 8 or
/// 17 hex digits; an instance's role session names it): its kind and
/// length.
fn prefixed_id(s: &str) -> Option<(Kind, usize)> {
    /// A prefix, the kind it names, and whether a body of length `n` may
    /// hold a byte.
    type Shape = (&'static str, Kind, fn(usize, u8) -> bool);
    fn hex(n: usize, c: u8) -> bool {
        (n == 8 || n == 17) && c.is_ascii_hexdigit()
    }
    fn org(n: usize, c: u8) -> bool {
        (10..=32).contains(&n) && (c.is_ascii_lowercase() || c.is_ascii_digit())
    }
    const SHAPES: [Shape; 4] = [
        ("vpce-", Kind::Vpce, hex),
        ("vpc-", Kind::Vpc, hex),
        ("i-", Kind::Instance, hex),
        ("o-", Kind::Org, org),
    ];
    let (prefix, kind, ok) = SHAPES.iter().find(|(p, ..)| s.starts_with(p))?;
    let body = &s[prefix.len()..];
    let n = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
    (n > 0 && body.bytes().take(n).all(|c| ok(n, c))).then_some((*kind, prefix.len() + n))
}

/// IAM unique ids and access key ids: a known four-letter prefix, then
/// upper-case letters and digits (16 or more).
fn unique_id_len(s: &str) -> Option<usize> {
    const PREFIXES: [&str; 11] = [
        "AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "APKA", "ASCA", "ABIA",
    ];
    if !PREFIXES.iter().any(|p| s.starts_with(p)) {
        return None;
    }
    let n = s
        .bytes()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        .count();
    let word_end = s
        .as_bytes()
        .get(n)
        .is_none_or(|c| !c.is_ascii_alphanumeric());
    (n >= 20 && word_end && !s[4..n].starts_with("EXAMPLE")).then_some(n)
}

fn unique_id_kind(prefix: &str) -> Kind {
    Kind::UniqueId(match prefix {
        "AKIA" => "AKIA",
        "ASIA" => "ASIA",
        "AIDA" => "AIDA",
        "AROA" => "AROA",
        "AGPA" => "AGPA",
        "ANPA" => "ANPA",
        "ANVA" => "ANVA",
        "AIPA" => "AIPA",
        "APKA" => "APKA",
        "ASCA" => "ASCA",
        _ => "ABIA",
    })
}

#[cfg(test)]
mod tests {
    use super::Redactor;

    /// None of `gone` is in `text`, all of `kept` is.
    pub(super) fn assert_redacted(text: &str, gone: &[&str], kept: &[&str]) {
        for g in gone {
            assert!(!text.contains(g), "`{g}` in {text}");
        }
        for k in kept {
            assert!(text.contains(k), "`{k}` not in {text}");
        }
    }

    #[test]
    fn everything_blocks_stay_in_both_families() {
        let mut r = Redactor::default();
        let out = r.text("aws:SourceIp in ::/0, 0.0.0.0/0, 2a01:4f8:abcd::/48 and 10.0.0.0/8");
        assert_eq!(out, "aws:SourceIp in ::/0, 0.0.0.0/0, cidr-1 and cidr-2");
    }

    #[test]
    fn shapes_get_stable_pseudonyms_and_aws_names_stay() {
        let mut r = Redactor::default();
        let text = "User: arn:aws:sts::111122223333:assumed-role/AppRole/alice@corp.example is not \
                    authorized on arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab \
                    from 203.0.113.77 and 2a01:4f8::1 with AKIAIOSFODNN7EXAMPLE via backup.amazonaws.com; \
                    vpce-1a2b3c4d in o-a1b2c3d4e5 for 111122223333:aws:ec2-infrastructure:i-81e2f56c; \
                    bob@corp.example.com; s3://acme-secrets/x; arn:aws:iam::aws:policy/AdministratorAccess; \
                    arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123; \
                    10.0.0.0/8 from 10.1.2.3, 2a01:4f8:abcd::/48, 0.0.0.0/0, 10.0.0.0/8; \
                    alias/prod-vault, arn:aws:kms:eu-west-1:111122223333:alias/prod-vault, alias/aws/backup; \
                    arn:aws:iam::111122223333:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup";
        let once = r.text(text);
        let gone = [
            "111122223333",
            "AppRole",
            "alice",
            "1234abcd-12ab",
            "203.0.113.77",
            "2a01:4f8::1",
            "AKIAIOSFODNN7EXAMPLE",
            "bob@corp",
            "acme-secrets",
            "vpce-1a2b3c4d",
            "o-a1b2c3d4e5",
            "i-81e2f56c",
            "prod-vault",
            "10.0.0.0",
            "10.1.2.3",
            "2a01:4f8:abcd",
            "/8",
            "/48",
        ];
        let kept = [
            "backup.amazonaws.com",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup",
            "kms:eu-west-1",
            "alias/aws/backup",
            // A block is one unit, the same each time; an address is an address.
            "cidr-1 from 192.0.2.2, cidr-2, 0.0.0.0/0, cidr-1;",
            "aws-reserved/sso.amazonaws.com/us-west-2/role-2",
            // One alias, one pseudonym, bare or in an ARN.
            "alias/alias-1, arn:aws:kms:eu-west-1:000000000001:alias/alias-1,",
        ];
        assert_redacted(&once, &gone, &kept);
        assert!(
            once.contains("arn:aws:sts::000000000001:assumed-role/role-1/"),
            "{once}"
        );
        // Pseudonyms pass through unchanged: the net over a rendered
        // report does not rename what the first pass named.
        assert_eq!(r.text(&once), once);
    }
}
