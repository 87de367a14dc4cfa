//! From a CloudTrail record to a KMS call row: which key, who really called,
//! and how it ended.
//!
//! The caller classes and outcome classes are `docs/caller-classes.md`'s and `docs/kms-events.md`'s tables. This module
//! is pure: no I/O, no grouping (see `diff`), no policy (see `policy`).

use foldhash::HashSet;
use std::sync::Arc;

use serde::Serialize;

use crate::event::Event;

/// Who really made a call, as CloudTrail shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Caller {
    pub class: CallerClass,
    /// `userIdentity.type`, as logged.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub invoked_by: Option<String>,
    /// The role ARN for assumed roles (never the session ARN), the user ARN
    /// for users, `None` for service principals.
    pub principal_arn: Option<String>,
    pub account_id: Option<String>,
}

/// The caller classes of `docs/caller-classes.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallerClass {
    ServicePrincipal,
    ForwardAccess,
    ServiceLinkedRole,
    ServiceEvent,
    Direct,
    Unknown,
}

impl CallerClass {
    pub const ALL: [Self; 6] = [
        Self::ServicePrincipal,
        Self::ForwardAccess,
        Self::ServiceLinkedRole,
        Self::ServiceEvent,
        Self::Direct,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "service-principal",
            Self::ForwardAccess => "forward-access",
            Self::ServiceLinkedRole => "service-linked-role",
            Self::ServiceEvent => "service-event",
            Self::Direct => "direct",
            Self::Unknown => "unknown",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Denied,
    KeyStateFailed,
    OtherFailed,
}

impl Outcome {
    /// The outcome classes of `docs/kms-events.md`, from `errorCode`.
    pub fn from_error_code(code: Option<&str>) -> Self {
        let Some(code) = code else {
            return Self::Succeeded;
        };
        let bare = code.rsplit('.').next().unwrap_or(code);
        match bare {
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => Self::Denied,
            "DisabledException" | "KMSInvalidStateException" | "NotFoundException" => {
                Self::KeyStateFailed
            }
            _ => Self::OtherFailed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Denied => "denied",
            Self::KeyStateFailed => "key_state_failed",
            Self::OtherFailed => "other_failed",
        }
    }
}

/// Shared text: a row's repeated strings (key ARNs, event names, callers,
/// error messages) are held once, however many calls name them.
///
/// One pointer wide (`Arc<str>` is two): the `Box<str>` (pointer and
/// length) lives in the `Arc`'s allocation and the bytes in a second one, so
/// each distinct text costs two allocations and a read follows two pointers.
/// Texts are shared and a row holds seven of them, so rows stay small.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<Box<str>>);

impl Text {
    pub fn new(s: &str) -> Self {
        Self(Arc::new(s.into()))
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self.0, f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

impl Default for Text {
    fn default() -> Self {
        Self::new("")
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(Arc::new(s.into_boxed_str()))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// A row's `eventID`. CloudTrail writes lowercase 8-4-4-4-12 UUIDs: those
/// are held as their 16 bytes (a boxed string is 16 bytes plus a 48-byte
/// allocation), anything else as written. It prints and orders as the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum EventId {
    Uuid([u8; 16]),
    Other(Box<str>),
}

impl EventId {
    pub fn new(s: &str) -> Self {
        lowercase_uuid(s).map_or_else(|| Self::Other(s.into()), Self::Uuid)
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Uuid(_) => self.to_string().into(),
            Self::Other(s) => (&**s).into(),
        }
    }
}

/// The 16 bytes of a lowercase 8-4-4-4-12 hex UUID; `None` for any other
/// spelling, which must print back exactly as it came.
fn lowercase_uuid(s: &str) -> Option<[u8; 16]> {
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    parse_uuid(s).map(u128::to_be_bytes)
}

/// A canonical 8-4-4-4-12 hex UUID as a number (compact dedup keys,
/// and the bytes of [`EventId::Uuid`]).
pub(crate) fn parse_uuid(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        v = (v << 4) | u128::from((c as char).to_digit(16)?);
    }
    // Lower- and upper-case spellings of one UUID are the same event.
    Some(v)
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uuid(bytes) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut text = [0u8; 36];
                let mut at = 0;
                for (i, b) in bytes.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        text[at] = b'-';
                        at += 1;
                    }
                    text[at] = HEX[usize::from(b >> 4)];
                    text[at + 1] = HEX[usize::from(b & 0xf)];
                    at += 2;
                }
                f.pad(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
            }
            Self::Other(s) => f.pad(s),
        }
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.text(), f)
    }
}

impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            // Byte order is the order of the lowercase hex text.
            (Self::Uuid(a), Self::Uuid(b)) => a.cmp(b),
            _ => self.text().cmp(&other.text()),
        }
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One KMS API call, as the differ and the evaluator need it.
///
/// Rows are compact for 5 GB trails: every repeated value is an
/// [`Interner`]-shared [`Text`] or `Arc`; the event id and the
/// encryption-context values are the row's own.
#[derive(Debug, Clone)]
pub struct KmsCall {
    /// The key ARN, or the best name CloudTrail gives (`alias/...`, an id).
    pub key: Text,
    pub event_name: Text,
    pub caller: Arc<Caller>,
    pub outcome: Outcome,
    /// Milliseconds since the Unix epoch; `None` when `eventTime` is unreadable.
    pub time_ms: Option<i64>,
    pub event_id: Option<EventId>,
    pub error_code: Option<Text>,
    pub error_message: Option<Text>,
    pub region: Option<Text>,
    pub source_ip: Option<Text>,
    pub vpc_endpoint_id: Option<Text>,
    /// `requestParameters.encryptionContext`, sorted by key. Keys are
    /// shared; values are the row's own, as they are often unique (an S3
    /// object ARN, an EBS volume id) and sharing them would cost more.
    pub encryption_context: Box<[(Text, Box<str>)]>,
    /// `requestParameters.encryptionContext` is there but not a JSON object
    /// (CloudTrail Lake's map-of-strings column reads as text, `{k=v}`):
    /// the context keys are then unknown, not absent.
    pub encryption_context_unreadable: bool,
}

/// Hands out one shared copy of each distinct value.
#[derive(Debug, Default)]
pub struct Interner {
    texts: HashSet<Text>,
    callers: HashSet<Arc<Caller>>,
}

impl Interner {
    pub fn text(&mut self, s: &str) -> Text {
        if let Some(t) = self.texts.get(s) {
            return t.clone();
        }
        let t = Text::new(s);
        self.texts.insert(t.clone());
        t
    }

    pub fn opt(&mut self, s: Option<&str>) -> Option<Text> {
        s.map(|s| self.text(s))
    }

    fn caller(&mut self, c: Caller) -> Arc<Caller> {
        if let Some(a) = self.callers.get(&c) {
            return a.clone();
        }
        let a = Arc::new(c);
        self.callers.insert(a.clone());
        a
    }
}

/// The KMS event names that change a key's state or policy (not calls that use it).
pub const LIFECYCLE_EVENTS: &[&str] = &[
    "CreateKey",
    "PutKeyPolicy",
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateGrant",
    "RetireGrant",
    "RevokeGrant",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
];

/// Key changes after which a caller that stops calling is a suspect.
pub const BREAKING_EVENTS: &[&str] = &[
    "PutKeyPolicy",
    "DisableKey",
    "ScheduleKeyDeletion",
    "RevokeGrant",
    "RetireGrant",
    "DeleteImportedKeyMaterial",
];

/// KMS operations that use a key (as opposed to managing it): a caller that
/// makes them and then stops is a suspect; one that managed the key once is not.
pub const KEY_USE_EVENTS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncrypt",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DescribeKey",
    "GetPublicKey",
    "DeriveSharedSecret",
    "CreateGrant",
];

/// The `eventSource` of the KMS API's records.
pub const KMS_SOURCE: &str = "kms.amazonaws.com";

/// The `eventSource` of CloudTrail's own records.
pub const TRAIL_SOURCE: &str = "cloudtrail.amazonaws.com";

/// The alias changes the collector follows (aliases resolve at each call's time).
pub const ALIAS_EVENTS: &[&str] = &["CreateAlias", "UpdateAlias", "DeleteAlias"];

/// Trail changes that set a trail's scope (multi-region, organization).
pub const TRAIL_SCOPE_EVENTS: &[&str] = &["CreateTrail", "UpdateTrail"];

/// Trail changes that can hide KMS events.
pub const TRAIL_LOGGING_EVENTS: &[&str] = &[
    "PutEventSelectors",
    "StopLogging",
    "StartLogging",
    "DeleteTrail",
];

/// Every trail change the analysis reads: [`TRAIL_SCOPE_EVENTS`] and
/// [`TRAIL_LOGGING_EVENTS`].
pub fn trail_events() -> impl Iterator<Item = &'static str> {
    TRAIL_SCOPE_EVENTS
        .iter()
        .chain(TRAIL_LOGGING_EVENTS)
        .copied()
}

/// True for records of the KMS API.
pub fn is_kms(ev: &Event) -> bool {
    ev.event_source.as_deref() == Some(KMS_SOURCE)
}

/// Sources whose records the analysis reads in full: KMS calls, and
/// CloudTrail's own configuration changes (which can hide KMS events).
/// Records of every other source are only counted.
pub fn is_analysed_source(source: impl AsRef<[u8]>) -> bool {
    let s = source.as_ref();
    s == KMS_SOURCE.as_bytes() || s == TRAIL_SOURCE.as_bytes()
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2026-11-22T09:17:00Z`).
pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

#[allow(clippy::ref_option, clippy::trivially_copy_pass_by_ref)]
pub fn ser_time<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(ms) => s.serialize_str(&fmt_time(*ms)),
        None => s.serialize_none(),
    }
}

/// Parses an RFC 3339 `eventTime` to epoch milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    parse_time_bytes(s.as_bytes())
}

/// [`parse_time`] on the bytes of a JSON string's body.
pub fn parse_time_bytes(b: &[u8]) -> Option<i64> {
    if let Some(t) = parse_cloudtrail_time(b) {
        return Some(t);
    }
    chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(b).ok()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// CloudTrail's own spelling, `2026-11-20T10:00:00Z`, read without the
/// general RFC 3339 parser (it is read for every record of a trail).
fn parse_cloudtrail_time(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    let time = date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?;
    Some(time.and_utc().timestamp_millis())
}

/// Classifies the caller of a record per `docs/caller-classes.md`.
pub fn caller(ev: &Event) -> Caller {
    let Some(id) = ev.user_identity.as_ref() else {
        return unknown_caller(None);
    };
    let issuer = id
        .session_context
        .as_ref()
        .and_then(|s| s.session_issuer.as_ref());
    let issuer_arn = issuer.and_then(|i| i.arn.clone());
    let kind = id.kind.clone();
    let invoked_by = id.invoked_by.clone();
    let class = match (kind.as_deref(), invoked_by.is_some()) {
        (Some("AWSService"), _) => CallerClass::ServicePrincipal,
        (Some(_), _) if is_service_linked(issuer_arn.as_deref(), id.arn.as_deref()) => {
            CallerClass::ServiceLinkedRole
        }
        (Some(_), true) => CallerClass::ForwardAccess,
        (None, true) => CallerClass::ServiceEvent,
        (Some(_), false) => CallerClass::Direct,
        (None, false) => CallerClass::Unknown,
    };
    let principal_arn = match class {
        CallerClass::ServicePrincipal | CallerClass::ServiceEvent => None,
        _ => principal_arn(kind.as_deref(), issuer_arn, id.arn.as_deref()),
    };
    Caller {
        class,
        kind,
        invoked_by,
        principal_arn,
        account_id: id.account_id.clone(),
    }
}

fn unknown_caller(account: Option<String>) -> Caller {
    Caller {
        class: CallerClass::Unknown,
        kind: None,
        invoked_by: None,
        principal_arn: None,
        account_id: account,
    }
}

fn is_service_linked(issuer_arn: Option<&str>, arn: Option<&str>) -> bool {
    issuer_arn.is_some_and(|a| a.contains(":role/aws-service-role/"))
        || arn.is_some_and(|a| a.contains(":assumed-role/AWSServiceRoleFor"))
}

/// The ARN that `aws:PrincipalArn` holds: the role for a session, else the identity.
fn principal_arn(
    kind: Option<&str>,
    issuer_arn: Option<String>,
    arn: Option<&str>,
) -> Option<String> {
    match kind {
        Some("AssumedRole" | "FederatedUser") => {
            issuer_arn.or_else(|| arn.and_then(role_from_session_arn))
        }
        _ => arn.map(str::to_owned),
    }
}

/// `arn:aws:sts::A:assumed-role/R/S` -> `arn:aws:iam::A:role/R` (the role's path
/// is not in a session ARN, so this is a fallback for records without an issuer).
fn role_from_session_arn(arn: &str) -> Option<String> {
    let (head, rest) = arn.split_once(":assumed-role/")?;
    let role = rest.split('/').next()?;
    let head = head.replacen(":sts:", ":iam:", 1);
    Some(format!("{head}:role/{role}"))
}

/// The key a KMS record is about: `resources[]` first, then `requestParameters`.
///
/// An alias in `keyId` comes back as an alias ARN (see [`qualify_key`]);
/// `collect` resolves it to a key ARN at the call's time and place.
pub fn key_of(ev: &Event, request: Option<&serde_json::Value>) -> Option<String> {
    let from_resources = ev.resources.iter().find_map(|r| {
        let is_key = r.kind.as_deref().is_none_or(|k| k == "AWS::KMS::Key");
        let arn = r.arn.as_deref()?;
        (is_key && arn.contains(":key/")).then(|| arn.to_owned())
    });
    if from_resources.is_some() {
        return from_resources;
    }
    let key_id = request?.get("keyId")?.as_str()?;
    Some(qualify_key(
        key_id,
        ev.aws_region.as_deref(),
        ev.recipient_account_id.as_deref(),
    ))
}

/// A bare key id becomes a key ARN, and an alias name (`alias/orders`) an
/// alias ARN, when region and account are known: aliases belong to one
/// account and region ("Aliases in AWS KMS"), so `alias/orders` in
/// `eu-west-1` and in `us-east-1` are different aliases. A multi-Region key
/// id (`mrk-...`) stays one key per region the same way.
pub fn qualify_key(key_id: &str, region: Option<&str>, account: Option<&str>) -> String {
    if key_id.starts_with("arn:") {
        return key_id.to_owned();
    }
    match (region, account) {
        (Some(r), Some(a)) if key_id.starts_with("alias/") => {
            format!("arn:aws:kms:{r}:{a}:{key_id}")
        }
        (Some(r), Some(a)) => format!("arn:aws:kms:{r}:{a}:key/{key_id}"),
        _ => key_id.to_owned(),
    }
}

/// An alias reference: `(account, region, alias/NAME)` of an alias ARN
/// (`arn:aws:kms:R:A:alias/NAME`), or of a bare `alias/NAME` with account
/// and region unknown; `None` for anything else.
pub(crate) fn alias_ref(key: &str) -> Option<(Option<&str>, Option<&str>, &str)> {
    if key.starts_with("alias/") {
        return Some((None, None, key));
    }
    let crate::arn::Arn {
        service,
        region,
        account,
        resource: rest,
        ..
    } = crate::arn::Arn::parse(key)?;
    (service == "kms" && rest.starts_with("alias/")).then(|| {
        (
            (!account.is_empty()).then_some(account),
            (!region.is_empty()).then_some(region),
            rest,
        )
    })
}

/// What a KMS call without any key (`ListKeys`, `GenerateRandom`) is grouped under.
pub const NO_KEY: &str = "(no key)";

/// Builds the row for a KMS record.
pub fn kms_call(ev: &Event, strings: &mut Interner) -> KmsCall {
    let request = ev.request();
    let key = key_of(ev, request.as_ref()).or_else(|| created_key(ev));
    let logged = request
        .as_ref()
        .and_then(|r| r.get("encryptionContext"))
        .filter(|v| !v.is_null());
    let encryption_context_unreadable = logged.is_some_and(|v| !v.is_object());
    let mut encryption_context: Vec<(Text, Box<str>)> = logged
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string().into(), Box::from);
                    (strings.text(k), v)
                })
                .collect()
        })
        .unwrap_or_default();
    encryption_context.sort();
    KmsCall {
        key: strings.text(key.as_deref().unwrap_or(NO_KEY)),
        event_name: strings.text(ev.event_name.as_deref().unwrap_or_default()),
        caller: strings.caller(caller(ev)),
        outcome: Outcome::from_error_code(ev.error_code.as_deref()),
        time_ms: ev.event_time.as_deref().and_then(parse_time),
        event_id: ev.event_id.as_deref().map(EventId::new),
        error_code: strings.opt(ev.error_code.as_deref()),
        error_message: strings.opt(ev.error_message.as_deref()),
        region: strings.opt(ev.aws_region.as_deref()),
        source_ip: strings.opt(ev.source_ip_address.as_deref()),
        vpc_endpoint_id: strings.opt(ev.vpc_endpoint_id.as_deref()),
        encryption_context: encryption_context.into(),
        encryption_context_unreadable,
    }
}

/// `CreateKey` names its key only in `responseElements.keyMetadata.arn`.
fn created_key(ev: &Event) -> Option<String> {
    let resp = ev.response()?;
    Some(resp.get("keyMetadata")?.get("arn")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn event_ids_print_and_order_as_written() {
        let ids = [
            "3f2b1c4d-0000-4e5f-8a9b-ffffffffffff",
            "00000000-0000-0000-0000-000000000000",
            "3F2B1C4D-0000-4E5F-8A9B-FFFFFFFFFFFF",
            "3f2b1c4d-0000-4e5f-8a9b-fffffffffffg",
            "3f2b1c4d+0000-4e5f-8a9b-ffffffffffff",
            "change",
            "",
            "3f2b1c4d-0000-4e5f-8a9b-fffffffffff",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
            "a0000000-0000-0000-0000-000000000000",
        ];
        for s in ids {
            assert_eq!(EventId::new(s).to_string(), s);
            assert_eq!(format!("{:>40}", EventId::new(s)), format!("{s:>40}"));
        }
        assert_eq!(
            format!("{:<12}|", Text::new("kms")),
            format!("{:<12}|", "kms")
        );
        assert!(matches!(EventId::new(ids[0]), EventId::Uuid(_)));
        assert!(matches!(EventId::new(ids[2]), EventId::Other(_)));
        for a in ids {
            for b in ids {
                assert_eq!(
                    EventId::new(a).cmp(&EventId::new(b)),
                    a.cmp(b),
                    "{a} vs {b}"
                );
                assert_eq!(EventId::new(a) == EventId::new(b), a == b, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn rows_stay_small() {
        // The 5 GB benchmark tree holds 228,000 rows. At 176 bytes a row
        // (with `Arc<str>` text and a boxed event id) they were the largest
        // part of its peak; 128 took 12 MB and 8 MB of event ids off it.
        assert!(size_of::<KmsCall>() <= 128, "{}", size_of::<KmsCall>());
        assert_eq!(size_of::<Option<Text>>(), 8);
        assert_eq!(size_of::<Option<EventId>>(), 24);
    }

    #[test]
    fn times_parse_alike_on_both_paths() {
        for s in [
            "2026-11-20T10:00:00Z",
            "1999-12-31T23:59:59Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T10:00:60Z",
            "2026-11-20 10:00:00Z",
            "2026-1a-20T10:00:00Z",
        ] {
            let general = chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp_millis());
            assert_eq!(parse_time(s), general, "{s}");
        }
        assert_eq!(parse_time("2026-11-20T10:00:00Z"), Some(1_795_168_800_000));
        assert_eq!(
            parse_time("2026-11-20T10:00:00.5+01:00"),
            Some(1_795_165_200_500)
        );
    }

    #[test]
    fn service_principal() {
        let c = caller(&ev(
            r#"{"userIdentity": {"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"}}"#,
        ));
        assert_eq!(c.class, CallerClass::ServicePrincipal);
        assert_eq!(c.principal_arn, None);
    }

    #[test]
    fn forward_access_uses_the_role_arn() {
        let c = caller(&ev(r#"{"userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::1:assumed-role/R/s", "invokedBy": "backup.amazonaws.com",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/path/R"}}}}"#));
        assert_eq!(c.class, CallerClass::ForwardAccess);
        assert_eq!(
            c.principal_arn.as_deref(),
            Some("arn:aws:iam::1:role/path/R")
        );
    }

    #[test]
    fn session_arn_fallback_without_issuer() {
        let c = caller(&ev(
            r#"{"userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/s"}}"#,
        ));
        assert_eq!(c.class, CallerClass::Direct);
        assert_eq!(c.principal_arn.as_deref(), Some("arn:aws:iam::1:role/R"));
    }

    #[test]
    fn service_linked_event_and_unknown() {
        let slr = caller(&ev(
            r#"{"userIdentity": {"type": "AssumedRole", "invokedBy": "x",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/aws-service-role/a/B"}}}}"#,
        ));
        assert_eq!(slr.class, CallerClass::ServiceLinkedRole);
        let svc = caller(&ev(
            r#"{"userIdentity": {"accountId": "1", "invokedBy": "AWS Internal"}}"#,
        ));
        assert_eq!(svc.class, CallerClass::ServiceEvent);
        assert_eq!(
            caller(&ev(r#"{"userIdentity": {}}"#)).class,
            CallerClass::Unknown
        );
        assert_eq!(caller(&ev("{}")).class, CallerClass::Unknown);
    }

    #[test]
    fn outcomes() {
        use Outcome::*;
        let cases = [
            (None, Succeeded),
            (Some("AccessDenied"), Denied),
            (Some("KMS.AccessDeniedException"), Denied),
            (Some("Client.UnauthorizedOperation"), Denied),
            (Some("KMSInvalidStateException"), KeyStateFailed),
            (Some("DisabledException"), KeyStateFailed),
            (Some("ThrottlingException"), OtherFailed),
        ];
        for (code, want) in cases {
            assert_eq!(Outcome::from_error_code(code), want, "{code:?}");
        }
    }

    #[test]
    fn key_from_resources_then_request() {
        let with_res = ev(
            r#"{"resources": [{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:r:1:key/k"}],
            "requestParameters": {"keyId": "alias/x"}}"#,
        );
        let key = |e: &Event| kms_call(e, &mut Interner::default()).key.to_string();
        assert_eq!(key(&with_res), "arn:aws:kms:r:1:key/k");
        let bare = ev(
            r#"{"awsRegion": "r", "recipientAccountId": "1", "requestParameters": {"keyId": "k"}}"#,
        );
        assert_eq!(key(&bare), "arn:aws:kms:r:1:key/k");
        assert_eq!(key(&ev(r#"{"requestParameters": null}"#)), NO_KEY);
        let created =
            ev(r#"{"responseElements": {"keyMetadata": {"arn": "arn:aws:kms:r:1:key/n"}}}"#);
        assert_eq!(key(&created), "arn:aws:kms:r:1:key/n");
    }
    #[test]
    fn aliases_and_multi_region_ids_are_qualified_per_region() {
        let (eu, acct) = (Some("eu-west-1"), Some("111122223333"));
        assert_eq!(
            qualify_key("alias/orders", eu, acct),
            "arn:aws:kms:eu-west-1:111122223333:alias/orders"
        );
        assert_eq!(
            qualify_key("mrk-1", Some("us-east-1"), acct),
            "arn:aws:kms:us-east-1:111122223333:key/mrk-1"
        );
        assert_eq!(qualify_key("alias/orders", None, acct), "alias/orders");
        assert_eq!(
            alias_ref("arn:aws:kms:eu-west-1:111122223333:alias/orders"),
            Some((Some("111122223333"), Some("eu-west-1"), "alias/orders"))
        );
        assert_eq!(
            alias_ref("alias/orders"),
            Some((None, None, "alias/orders"))
        );
        assert_eq!(alias_ref("arn:aws:kms:eu-west-1:111122223333:key/k"), None);
        assert_eq!(alias_ref("arn:aws:s3:::alias/x"), None);
    }
}
