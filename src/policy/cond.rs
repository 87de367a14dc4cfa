//! Condition operators: one condition (operator, key, values) against the
//! request context, in three-valued logic.
//!
//! Rules ("IAM JSON policy elements: Condition operators", "Conditions with
//! multiple context keys or values", "Single-valued vs. multivalued context
//! keys"):
//! - an unknown key makes the condition unknown;
//! - an absent key: `...IfExists` is true, `ForAllValues:` true,
//!   `ForAnyValue:` false, a negated operator true, any other false; `Null`
//!   tests presence;
//! - several policy values are OR'd; a negated operator is the NOR of its
//!   positive form (the "negated matching condition operators" rule);
//! - a multivalued key ([`MULTIVALUED`]) under an operator without
//!   `ForAnyValue:`/`ForAllValues:` (other than `Null`) is unknown, present or
//!   absent, and the trace carries a note saying why: "Single-valued vs.
//!   multivalued context keys" says multivalued keys require a set operator
//!   and defines nothing else, so any answer would be a guess;
//! - any other key present with several values (a hand-written request) and
//!   no qualifier: the positive form is true if any request value matches,
//!   a negated operator its negation (our choice: it keeps `StringNotEquals`
//!   exactly `not StringEquals`);
//! - `ForAnyValue:`/`ForAllValues:` apply the operator (negation included) to
//!   each request value and take any/all.
//!
//! This module knows nothing about statements or principals.

use std::cmp::Ordering::Equal;
use std::net::IpAddr;
use std::ops::Not as _;

use super::context::{Context, Seen};
use super::eval::ConditionTrace;
use super::parse::{Condition, OperatorKind as K, SetQualifier};
use super::pattern::{Expanded, Tok, expand, glob, literal, render};
use super::tri::Tri;

/// Condition keys that can hold several values in one request, per the
/// "Value type" of each key in "AWS global condition context keys" and
/// "AWS KMS condition keys" (compared in lowercase).
pub(crate) const MULTIVALUED: &[&str] = &[
    "aws:calledvia",
    "aws:principalservicenameslist",
    "aws:tagkeys",
    "aws:principalorgpaths",
    "aws:sourceorgpaths",
    "kms:encryptioncontextkeys",
    "kms:grantoperations",
    "kms:resourcealiases",
];

/// Evaluate one condition and record the evidence.
pub(crate) fn evaluate(cond: &Condition, ctx: &Context, variables: bool) -> ConditionTrace {
    let seen = ctx.get(&cond.key);
    let note = bare_multivalued(cond).then(|| {
        format!(
            "`{}` is a multivalued key: without `ForAnyValue:` or `ForAllValues:`, `{}` on it is not defined (\"Single-valued vs. multivalued context keys\": multivalued keys require a set operator), so the condition is undetermined",
            cond.key, cond.operator
        )
    });
    let result = if note.is_some() {
        Tri::Unknown
    } else {
        result(cond, &seen, ctx, variables)
    };
    ConditionTrace {
        operator: cond.operator.clone(),
        key: cond.key.clone(),
        values: cond.values.clone(),
        seen,
        result,
        note,
    }
}

/// A multivalued key under an operator with no set qualifier (`Null`, which
/// only tests presence, is fine).
fn bare_multivalued(cond: &Condition) -> bool {
    cond.op.set.is_none()
        && cond.op.kind != K::Null
        && MULTIVALUED.contains(&cond.key.to_lowercase().as_str())
}

fn result(cond: &Condition, seen: &Seen, ctx: &Context, variables: bool) -> Tri {
    let op = cond.op;
    if op.kind == K::Null {
        return null(cond, seen);
    }
    match seen {
        Seen::Unknown => return Tri::Unknown,
        Seen::Absent if op.if_exists => return Tri::True,
        _ => {}
    }
    if let (Some(set), Seen::Present(values)) = (&cond.exact, seen) {
        return combine(op, values, |v| Tri::from(set.contains(v)));
    }
    let Some(patterns) = patterns(cond, ctx, variables) else {
        // "IAM policy elements: Variables and tags": a variable whose key is
        // not present "causes the statement to be invalid", so the condition
        // is false, negated or not; only `...IfExists` on an absent key (the
        // docs' remedy) is still true.
        return Tri::False;
    };
    let Seen::Present(values) = seen else {
        return absent(cond);
    };
    combine(op, values, |v| {
        Tri::any(patterns.iter().map(|p| p.matches(op.kind, v)))
    })
}

/// The condition's result from `matches` (the positive comparison of one
/// request value with the policy's values), per set qualifier and negation.
fn combine(
    op: crate::policy::Operator,
    values: &[String],
    matches: impl Fn(&String) -> Tri,
) -> Tri {
    let single = |v: &String| {
        if op.negated {
            matches(v).not()
        } else {
            matches(v)
        }
    };
    match op.set {
        Some(SetQualifier::ForAnyValue) => Tri::any(values.iter().map(single)),
        Some(SetQualifier::ForAllValues) => Tri::all(values.iter().map(single)),
        None if op.negated => Tri::any(values.iter().map(matches)).not(),
        None => Tri::any(values.iter().map(matches)),
    }
}

/// `Null: true` holds when the key is absent, `Null: false` when present.
fn null(cond: &Condition, seen: &Seen) -> Tri {
    let present = match seen {
        Seen::Unknown => return Tri::Unknown,
        Seen::Absent => false,
        Seen::Present(_) => true,
    };
    Tri::any(
        cond.values
            .iter()
            .map(|v| Tri::from(v.eq_ignore_ascii_case("false") == present)),
    )
}

fn absent(cond: &Condition) -> Tri {
    let op = cond.op;
    Tri::from(match op.set {
        Some(SetQualifier::ForAllValues) => true,
        Some(SetQualifier::ForAnyValue) => false,
        None => op.negated,
    })
}

/// One policy value ready to compare: expanded tokens, or unknown.
enum Pattern {
    Tokens(Vec<Tok>),
    Unknown,
}

/// Expand variables (string and ARN operators only); `None` if one is missing.
fn patterns(cond: &Condition, ctx: &Context, variables: bool) -> Option<Vec<Pattern>> {
    let expands = matches!(
        cond.op.kind,
        K::StringEquals | K::StringEqualsIgnoreCase | K::StringLike | K::ArnEquals | K::ArnLike
    );
    let one = |v: &String| match expand(v, ctx, variables && expands) {
        Expanded::Tokens(toks) => Some(Pattern::Tokens(toks)),
        Expanded::Unknown => Some(Pattern::Unknown),
        Expanded::Missing => None,
    };
    cond.values.iter().map(one).collect()
}

impl Pattern {
    fn matches(&self, kind: K, value: &str) -> Tri {
        match self {
            Pattern::Unknown => Tri::Unknown,
            Pattern::Tokens(toks) => Tri::from(compare(kind, toks, value)),
        }
    }
}

/// The positive comparison of one policy value with one request value.
fn compare(kind: K, toks: &[Tok], value: &str) -> bool {
    let text = || render(toks);
    match kind {
        K::StringEquals | K::BinaryEquals => text() == value,
        K::StringEqualsIgnoreCase => text().to_lowercase() == value.to_lowercase(),
        K::StringLike => glob(toks, value, false),
        K::NumericEquals => {
            numbers(&text(), value).is_some_and(|(p, v)| v.partial_cmp(&p) == Some(Equal))
        }
        K::NumericLessThan => numbers(&text(), value).is_some_and(|(p, v)| v < p),
        K::NumericLessThanEquals => numbers(&text(), value).is_some_and(|(p, v)| v <= p),
        K::NumericGreaterThan => numbers(&text(), value).is_some_and(|(p, v)| v > p),
        K::NumericGreaterThanEquals => numbers(&text(), value).is_some_and(|(p, v)| v >= p),
        K::DateEquals => dates(&text(), value).is_some_and(|(p, v)| v == p),
        K::DateLessThan => dates(&text(), value).is_some_and(|(p, v)| v < p),
        K::DateLessThanEquals => dates(&text(), value).is_some_and(|(p, v)| v <= p),
        K::DateGreaterThan => dates(&text(), value).is_some_and(|(p, v)| v > p),
        K::DateGreaterThanEquals => dates(&text(), value).is_some_and(|(p, v)| v >= p),
        K::Bool => text().eq_ignore_ascii_case(value),
        K::IpAddress => ip_in(&text(), value),
        K::ArnEquals | K::ArnLike => arn_like(toks, value),
        K::Null => false,
    }
}

fn numbers(policy: &str, value: &str) -> Option<(f64, f64)> {
    Some((policy.parse().ok()?, value.trim().parse().ok()?))
}

fn dates(policy: &str, value: &str) -> Option<(i64, i64)> {
    Some((parse_date(policy)?, parse_date(value)?))
}

/// "ARN condition operators": the six colon-separated parts are matched
/// separately, each may hold `*` and `?`, case-sensitively; `ArnEquals`
/// behaves like `ArnLike`. A pattern with fewer than six parts (such as a lone
/// `*`) is matched against the whole value (our choice; the docs are silent).
fn arn_like(toks: &[Tok], value: &str) -> bool {
    let pattern = render(toks);
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    if p.len() < 6 {
        return glob(toks, value, false);
    }
    v.len() == 6 && p.iter().zip(&v).all(|(p, v)| glob(&literal(p), v, false))
}

/// A date as epoch milliseconds: epoch seconds (`1700000000`), or ISO 8601
/// `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]` ("Date condition operators").
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let (date, time) = text.split_once(['T', 't']).unwrap_or((text, ""));
    let mut ymd = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || date.len() != 10 {
        return None;
    }
    let (clock, offset) = split_offset(time)?;
    let days = days_from_civil(y, m, d);
    Some((days * 86_400 + clock.0 - offset) * 1000 + clock.1)
}

/// `HH:MM[:SS[.fff]]` and the zone offset, both in seconds (plus millis).
fn split_offset(time: &str) -> Option<((i64, i64), i64)> {
    if time.is_empty() {
        return Some(((0, 0), 0));
    }
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let sign = if time[pos..].starts_with('-') { -1 } else { 1 };
        let (h, m) = hours_minutes(&time[pos + 1..])?;
        (&time[..pos], sign * (h * 3600 + m * 60))
    } else {
        (time, 0)
    };
    Some((clock_seconds(clock)?, offset))
}

fn hours_minutes(text: &str) -> Option<(i64, i64)> {
    let (h, m) = text
        .split_once(':')
        .unwrap_or(text.split_at(text.len().min(2)));
    Some((
        h.parse().ok()?,
        if m.is_empty() { 0 } else { m.parse().ok()? },
    ))
}

fn clock_seconds(clock: &str) -> Option<(i64, i64)> {
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':').map(str::parse::<i64>);
    let h = parts.next()?.ok()?;
    let m = parts.next()?.ok()?;
    let s = parts.next().transpose().ok()?.unwrap_or(0);
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    Some((h * 3600 + m * 60 + s, millis))
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An address or CIDR block (`203.0.113.0/24`, `2001:db8::/32`); a bare
/// address is a full-length prefix.
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match text.trim().split_once('/') {
        Some((addr, bits)) => (
            addr.parse::<IpAddr>().ok()?,
            Some(bits.parse::<u32>().ok()?),
        ),
        None => (text.trim().parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

/// "IP address condition operators": the request address lies in the block;
/// an IPv4 address never matches an IPv6 block and vice versa.
fn ip_in(block: &str, value: &str) -> bool {
    let (Some((net, bits)), Ok(addr)) = (parse_cidr(block), value.trim().parse::<IpAddr>()) else {
        return false;
    };
    let (net, addr, width) = match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => (u128::from(n.to_bits()), u128::from(a.to_bits()), 32),
        (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
        _ => return false,
    };
    let mask = if bits == 0 {
        0
    } else {
        (u128::MAX << (width - bits)) & (u128::MAX >> (128 - width))
    };
    net & mask == addr & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set lookup decides exactly as the value-by-value comparison,
    /// for every operator it serves, negated or not, with set qualifiers.
    #[test]
    fn exception_list_lookup_matches_the_scan() {
        let arns: Vec<String> = (0..20)
            .map(|i| format!("arn:aws:iam::111122223333:role/app-{i}"))
            .collect();
        let mut checked = 0;
        for operator in [
            "StringEquals",
            "StringNotEquals",
            "StringNotEqualsIfExists",
            "ArnEquals",
            "ArnNotLike",
            "ForAnyValue:StringEquals",
            "ForAllValues:StringNotEquals",
        ] {
            let text = format!(
                r#"{{"Statement": [{{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                   "Condition": {{"{operator}": {{"aws:PrincipalArn": {}}}}}}}]}}"#,
                serde_json::to_string(&arns).unwrap()
            );
            let policy = crate::policy::parse_policy(&text).unwrap();
            let fast = &policy.statements[0].conditions[0];
            assert!(fast.exact.is_some(), "{operator} uses the set");
            let mut slow = fast.clone();
            slow.exact = None;
            for seen in [
                vec!["arn:aws:iam::111122223333:role/app-7".to_owned()],
                vec!["arn:aws:iam::111122223333:role/app-70".to_owned()],
                vec!["arn:aws:iam::111122223333:role/APP-7".to_owned()],
                vec![
                    "arn:aws:iam::111122223333:role/app-1".to_owned(),
                    "arn:aws:iam::111122223333:user/x".to_owned(),
                ],
                vec![],
            ] {
                let ctx = Context::new().set("aws:PrincipalArn", seen.clone());
                assert_eq!(
                    evaluate(fast, &ctx, true).result,
                    evaluate(&slow, &ctx, true).result,
                    "{operator} on {seen:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 35);
        let like = crate::policy::parse_policy(
            r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
               "Condition": {"ArnLike": {"aws:PrincipalArn": ["a1","a2","a3","a4","a5","a6","a7","a8","arn:*"]}}}]}"#,
        )
        .unwrap();
        assert!(
            like.statements[0].conditions[0].exact.is_none(),
            "a wildcard keeps the scan"
        );
    }

    #[test]
    fn dates_parse_iso_and_epoch() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_date("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_date("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_date("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_date("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(
            parse_date("2014-11-30T12:00Z"),
            parse_date("2014-11-30T12:00:00Z")
        );
        assert_eq!(parse_date("2023-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn cidr_blocks_v4_and_v6() {
        assert!(ip_in("203.0.113.0/24", "203.0.113.9"));
        assert!(!ip_in("203.0.113.0/24", "203.0.114.9"));
        assert!(ip_in("203.0.113.7", "203.0.113.7"));
        assert!(ip_in("0.0.0.0/0", "8.8.8.8"));
        assert!(ip_in("2001:db8::/32", "2001:db8:1::5"));
        assert!(!ip_in("2001:db8::/32", "2001:db9::5"));
        assert!(!ip_in("2001:db8::/32", "203.0.113.9"));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
    }

    #[test]
    fn arn_parts_match_separately() {
        let arn = "arn:aws:iam::111122223333:role/backup";
        assert!(arn_like(&literal("arn:aws:iam::*:role/*"), arn));
        assert!(!arn_like(&literal("arn:aws:iam::*:user/*"), arn));
        assert!(arn_like(&literal("*"), arn));
        assert!(!arn_like(
            &literal("arn:aws:iam::111122223333:*"),
            "not-an-arn"
        ));
    }
}
