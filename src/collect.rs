//! Where every decoded record lands: counted once, deduplicated on
//! `eventID`, filtered, and turned into KMS call rows and key lifecycle
//! events.
//!
//! Only the records the analysis reads (KMS and CloudTrail configuration,
//! [`call::is_analysed_source`]) are deduplicated: a duplicate of one would
//! count a call twice. Records of other services are counted as `non_kms`
//! each time they are read, so that the dedup set holds a few percent of
//! the records, not all of them (4.6 million 16-byte IDs need a table of at
//! least 74 MB: computed, not measured; the 5 GB peak was then set by the
//! call rows).
//!
//! Sources hand it whole inputs ([`Collector::add`]); it keeps the books so
//! that `records = invalid + duplicates + non-KMS + outside filters + KMS calls`
//! always holds. It does no I/O and no grouping.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use crate::call::{self, Interner, KmsCall, LIFECYCLE_EVENTS, Outcome, parse_uuid};
use crate::event::{Event, RawRecord};
use crate::reduced_table;
use crate::source::decode::{DecodeError, Decoded};

/// What the user asked to keep.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Key ARNs, key ids or aliases (`alias/name`, alias ARNs).
    pub keys: Vec<String>,
    /// Event names without the `kms:` prefix; empty means all.
    pub event_names: Vec<String>,
}

/// The books: every input and every record is counted in exactly one place.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Inputs {
    pub files_read: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    /// Every record entry read, whatever became of it.
    pub records: u64,
    /// Entries that are not records (not a JSON object, bad NDJSON line).
    pub records_invalid: u64,
    pub duplicates_dropped: u64,
    pub non_kms: u64,
    /// KMS records outside `--since/--until`, `--key` or `--event-name`.
    pub outside_filters: u64,
    pub kms_calls: u64,
}

/// One input's share of the books: `records = records_invalid +
/// duplicates_dropped + non_kms + outside_filters + kms_calls` holds for each.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FileCount {
    pub source: String,
    pub records: u64,
    pub records_invalid: u64,
    pub duplicates_dropped: u64,
    pub non_kms: u64,
    pub outside_filters: u64,
    pub kms_calls: u64,
}

/// An input that could not be read, or records in it that could not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failure {
    pub source: String,
    pub reason: String,
}

/// A change to a key: policy, state, grants, material, rotation.
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    pub key_arn: String,
    pub event_name: String,
    #[serde(rename = "event_time", serialize_with = "crate::call::ser_time")]
    pub time_ms: Option<i64>,
    pub event_id: Option<String>,
    /// The principal ARN, or the service, that made the change.
    pub actor: Option<String>,
    pub outcome: Outcome,
    /// The key policy document, for `PutKeyPolicy` and `CreateKey`.
    #[serde(skip)]
    pub policy: Option<String>,
    /// What `CreateGrant`, `RetireGrant` and `RevokeGrant` say of the grant.
    pub grant: Option<Grant>,
}

/// A grant as its events show it (`docs/kms-events.md`, "Key lifecycle
/// events"): `CreateGrant` gives every field; `RevokeGrant` gives
/// `grant_id`, `RetireGrant` `grant_id` or only a token. Principals are as
/// logged: an ARN, a service principal, or a principal ID.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Grant {
    pub grant_id: Option<String>,
    /// A grant token identifies a grant to `RetireGrant`; not reported.
    #[serde(skip)]
    pub grant_token: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
}

/// A change to a trail that can hide KMS events from it.
#[derive(Debug, Clone, Serialize)]
pub struct TrailChange {
    pub event_name: String,
    #[serde(rename = "event_time", serialize_with = "crate::call::ser_time")]
    pub time_ms: Option<i64>,
    pub event_id: Option<String>,
    pub actor: Option<String>,
    pub trail: Option<String>,
    /// The change stops KMS events from being logged (management events
    /// off, `kms.amazonaws.com` excluded, or logging stopped).
    pub excludes_kms: bool,
    /// The trail's account: the trail ARN's, else the change's `recipientAccountId`.
    pub account: Option<String>,
    /// The trail's home region: the trail ARN's, else the change's `awsRegion`.
    pub region: Option<String>,
    /// Which keys' events the trail logs, from the last `CreateTrail` or
    /// `UpdateTrail` of it at or before the change.
    pub scope: TrailScope,
}

/// Which events a trail logs (`isMultiRegionTrail`, `isOrganizationTrail`
/// of `CreateTrail`/`UpdateTrail`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrailScope {
    /// Its own account, its home region only.
    Region,
    /// Its own account, every region.
    AllRegions,
    /// Every account of the organization, every region.
    Organization,
    /// No `CreateTrail` or `UpdateTrail` of it in the trail.
    #[default]
    Unknown,
}

/// One `CreateTrail` or `UpdateTrail`: the trail's scope from then on.
#[derive(Debug, Clone)]
struct ScopeChange {
    account: Option<String>,
    name: String,
    time_ms: Option<i64>,
    scope: TrailScope,
}

/// Everything collected from all inputs.
#[derive(Debug, Default)]
pub struct Collected {
    pub inputs: Inputs,
    pub failures: Vec<Failure>,
    pub calls: Vec<KmsCall>,
    pub lifecycle: Vec<Lifecycle>,
    pub trail_changes: Vec<TrailChange>,
    /// The books per input read (in input order).
    pub per_file: Vec<FileCount>,
    /// The latest `eventTime` of any record in the window (KMS or not): how
    /// far the trail is known to reach. A caller is "silent" after a change
    /// only if the trail reaches past it.
    pub horizon_ms: Option<i64>,
    /// What `--since/--until`, `--event-name` and `--key` left out, so that
    /// a filter that leaves nothing can say what was there.
    pub left_out: LeftOut,
    /// With [`Collector::keep_rows`]: the reduced table's row of every
    /// record kept (`reduced_table::keeps`), duplicates dropped, before
    /// `--since/--until`, `--key` and `--event-name`.
    pub rows: Vec<reduced_table::Row>,
}

/// The KMS calls the filters left out: how many, their time span, and the
/// first few keys and event names (sorted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub calls: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub keys: std::collections::BTreeSet<String>,
    pub event_names: std::collections::BTreeSet<String>,
}

impl LeftOut {
    /// How many distinct keys and event names are kept to name.
    const NAMED: usize = 8;

    fn note(&mut self, c: &KmsCall) {
        self.calls += 1;
        if let Some(t) = c.time_ms {
            self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
            self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
        }
        if self.keys.len() < Self::NAMED && !self.keys.contains(&*c.key) {
            self.keys.insert(c.key.to_string());
        }
        if self.event_names.len() < Self::NAMED && !self.event_names.contains(&*c.event_name) {
            self.event_names.insert(c.event_name.to_string());
        }
    }
}

/// Accumulates inputs; see the module docs.
#[derive(Debug, Default)]
pub struct Collector {
    filters: Filters,
    seen_uuids: HashSet<u128, BuildHasherDefault<UuidHasher>>,
    seen_other: HashSet<String>,
    aliases: Aliases,
    /// One shared copy of each repeated value of the call rows.
    strings: Interner,
    /// For each call, the index of its input in `out.per_file`.
    call_file: Vec<u32>,
    /// Every trail's scope changes, to scope `out.trail_changes`.
    trail_scopes: Vec<ScopeChange>,
    /// Whether to keep each kept record's row in `out.rows`.
    keep_rows: bool,
    out: Collected,
}

impl Collector {
    pub fn new(filters: Filters) -> Self {
        Self {
            filters,
            ..Self::default()
        }
    }

    /// Keeps the reduced table's row of every record kept, for
    /// `--export-calls`.
    pub fn keep_rows(&mut self) {
        self.keep_rows = true;
    }

    /// True once any input (or record) has failed.
    pub fn has_failed(&self) -> bool {
        !self.out.failures.is_empty()
    }

    /// A path or object skipped on purpose (digest, not a log file by name).
    pub fn skipped(&mut self) {
        self.out.inputs.files_skipped += 1;
    }

    /// An input that failed before decoding (unreadable, missing).
    pub fn failed(&mut self, source: &str, reason: String) {
        self.out.inputs.files_failed += 1;
        self.fail(source, reason);
    }

    fn fail(&mut self, source: &str, reason: String) {
        self.out.failures.push(Failure {
            source: source.to_owned(),
            reason,
        });
    }

    /// Takes one decoded input.
    pub fn add(&mut self, source: &str, decoded: Result<Decoded, DecodeError>) {
        let records = match decoded {
            Err(e) => return self.failed(source, e.to_string()),
            Ok(Decoded::Digest) => return self.skipped(),
            Ok(Decoded::Records(r)) => r,
        };
        let before = self.snapshot();
        self.out.inputs.files_read += 1;
        let bad = records.bad_lines.len() as u64;
        self.out.inputs.records += bad;
        self.out.inputs.records_invalid += bad;
        if let Some((line, reason)) = records.bad_lines.first() {
            let more = if bad > 1 {
                format!(" (and {} more lines)", bad - 1)
            } else {
                String::new()
            };
            self.fail(source, format!("line {line}: {reason}{more}"));
        }
        let mut invalid = Vec::new();
        for (i, rec) in records.records.into_iter().enumerate() {
            self.out.inputs.records += 1;
            match rec {
                RawRecord::Record(ev) => self.record(&ev),
                RawRecord::Invalid(what) => invalid.push((i, what)),
            }
        }
        self.note_invalid(source, &invalid);
        self.close_file(source, &before);
    }

    /// Takes one reduced table (`source::table_file`): its rows as the
    /// records they stand for, or why a row is none (counted invalid).
    pub fn add_rows(
        &mut self,
        source: &str,
        rows: impl IntoIterator<Item = Result<Event, String>>,
    ) {
        let before = self.snapshot();
        self.out.inputs.files_read += 1;
        let mut bad: Option<(usize, String)> = None;
        let mut bad_rows = 0u64;
        for (i, row) in rows.into_iter().enumerate() {
            self.out.inputs.records += 1;
            match row {
                Ok(ev) => self.record(&ev),
                Err(why) => {
                    bad_rows += 1;
                    bad.get_or_insert((i + 1, why));
                }
            }
        }
        self.out.inputs.records_invalid += bad_rows;
        if let Some((row, why)) = bad {
            let more = if bad_rows > 1 {
                format!(" (and {} more rows)", bad_rows - 1)
            } else {
                String::new()
            };
            self.fail(source, format!("row {row}: {why}{more}"));
        }
        self.close_file(source, &before);
    }

    /// The books and the number of calls before an input.
    fn snapshot(&self) -> (Inputs, usize) {
        (self.out.inputs.clone(), self.out.calls.len())
    }

    /// Books the input just read under its own name.
    fn close_file(&mut self, source: &str, before: &(Inputs, usize)) {
        let (b, calls) = before;
        let i = &self.out.inputs;
        let index = u32::try_from(self.out.per_file.len()).unwrap_or(u32::MAX);
        self.out.per_file.push(FileCount {
            source: source.to_owned(),
            records: i.records - b.records,
            records_invalid: i.records_invalid - b.records_invalid,
            duplicates_dropped: i.duplicates_dropped - b.duplicates_dropped,
            non_kms: i.non_kms - b.non_kms,
            outside_filters: i.outside_filters - b.outside_filters,
            kms_calls: (self.out.calls.len() - calls) as u64,
        });
        self.call_file.resize(self.out.calls.len(), index);
    }

    fn note_invalid(&mut self, source: &str, invalid: &[(usize, &'static str)]) {
        let Some((first, what)) = invalid.first() else {
            return;
        };
        self.out.inputs.records_invalid += invalid.len() as u64;
        let n = invalid.len();
        self.fail(
            source,
            format!(
                "{n} record(s) are not JSON objects (record {}: {what})",
                first + 1
            ),
        );
    }

    fn is_duplicate(&mut self, id: Option<DedupKey>) -> bool {
        match id {
            None => false,
            Some(DedupKey::Uuid(u)) => !self.seen_uuids.insert(u),
            Some(DedupKey::Other(id)) => !self.seen_other.insert(id),
        }
    }

    /// Takes one input decoded on the fast path (`source::fast`).
    pub fn add_items(&mut self, source: &str, items: Vec<crate::source::fast::Item>) {
        use crate::source::fast::Item;
        let before = self.snapshot();
        self.out.inputs.files_read += 1;
        let mut invalid = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            self.out.inputs.records += 1;
            match item {
                Item::Full(ev) => self.record(&ev),
                Item::Invalid(what) => invalid.push((i, what)),
                Item::Light { time_ms } => {
                    self.note_time(time_ms);
                    self.out.inputs.non_kms += 1;
                }
            }
        }
        self.note_invalid(source, &invalid);
        self.close_file(source, &before);
    }

    fn record(&mut self, ev: &Event) {
        if !ev
            .event_source
            .as_deref()
            .is_some_and(call::is_analysed_source)
        {
            // Counted only: not deduplicated, so that memory does not grow
            // with the records of other services (see the module docs).
            self.note_horizon(ev);
            self.out.inputs.non_kms += 1;
            return;
        }
        if self.is_duplicate(ev.event_id.as_deref().map(DedupKey::of)) {
            self.out.inputs.duplicates_dropped += 1;
            return;
        }
        if self.keep_rows && reduced_table::keeps(ev) {
            self.out.rows.push(reduced_table::row_of(ev));
        }
        self.note_horizon(ev);
        if !call::is_kms(ev) {
            self.out.inputs.non_kms += 1;
            if let Some(change) = trail_change(ev) {
                self.out.trail_changes.push(change);
            }
            if let Some(scope) = trail_scope(ev) {
                self.trail_scopes.push(scope);
            }
            return;
        }
        let kms = call::kms_call(ev, &mut self.strings);
        self.note_alias(ev, &kms);
        if LIFECYCLE_EVENTS.contains(&&*kms.event_name) {
            self.out.lifecycle.push(lifecycle(ev, &kms));
        }
        if self.in_window(&kms) && self.wants_event(&kms.event_name) {
            self.out.calls.push(kms);
        } else {
            self.out.inputs.outside_filters += 1;
            self.out.left_out.note(&kms);
        }
    }

    fn note_horizon(&mut self, ev: &Event) {
        self.note_time(ev.event_time.as_deref().and_then(call::parse_time));
    }

    fn note_time(&mut self, t: Option<i64>) {
        let Some(t) = t else { return };
        let f = &self.filters;
        if f.since_ms.is_none_or(|s| t >= s) && f.until_ms.is_none_or(|u| t <= u) {
            self.out.horizon_ms = self.out.horizon_ms.max(Some(t));
        }
    }

    fn in_window(&self, c: &KmsCall) -> bool {
        let f = &self.filters;
        if f.since_ms.is_none() && f.until_ms.is_none() {
            return true;
        }
        c.time_ms
            .is_some_and(|t| f.since_ms.is_none_or(|s| t >= s) && f.until_ms.is_none_or(|u| t <= u))
    }

    fn wants_event(&self, name: &str) -> bool {
        let names = &self.filters.event_names;
        names.is_empty() || names.iter().any(|n| n == name)
    }

    fn note_alias(&mut self, ev: &Event, c: &KmsCall) {
        let deleted = match &*c.event_name {
            "CreateAlias" | "UpdateAlias" => false,
            "DeleteAlias" => true,
            _ => return,
        };
        if c.outcome != Outcome::Succeeded {
            return;
        }
        let req = ev.request();
        let Some(name) = req.as_ref().and_then(|r| r.get("aliasName")?.as_str()) else {
            return;
        };
        let (region, account) = (ev.aws_region.as_deref(), ev.recipient_account_id.as_deref());
        let target = req
            .as_ref()
            .and_then(|r| r.get("targetKeyId")?.as_str())
            .map(|t| call::qualify_key(t, region, account));
        if deleted || target.is_some() {
            let place = AliasPlace {
                account: account.map(str::to_owned),
                region: region.map(str::to_owned),
                name: name.to_owned(),
            };
            self.aliases
                .note(place, c.time_ms, target.filter(|_| !deleted));
        }
    }

    /// Resolves aliases, applies `--key`, and returns the books.
    pub fn finish(mut self) -> Collected {
        self.aliases.sort();
        for c in &mut self.out.calls {
            if let Some(arn) = self.aliases.resolve(&c.key, c.time_ms) {
                c.key = self.strings.text(&arn);
            }
        }
        let wanted: Vec<String> = self
            .filters
            .keys
            .iter()
            .flat_map(|k| self.aliases.wanted(k))
            .collect();
        if !wanted.is_empty() {
            let before = self.out.calls.len();
            let keep: Vec<bool> = self
                .out
                .calls
                .iter()
                .map(|c| wanted.iter().any(|w| key_matches(&c.key, w)))
                .collect();
            for (k, f) in keep.iter().zip(&self.call_file) {
                if let (false, Some(pf)) = (*k, self.out.per_file.get_mut(*f as usize)) {
                    pf.kms_calls -= 1;
                    pf.outside_filters += 1;
                }
            }
            for (c, _) in self.out.calls.iter().zip(&keep).filter(|(_, k)| !**k) {
                self.out.left_out.note(c);
            }
            let mut keep = keep.into_iter();
            self.out.calls.retain(|_| keep.next().unwrap_or(true));
            self.out
                .lifecycle
                .retain(|l| wanted.iter().any(|w| key_matches(&l.key_arn, w)));
            self.out.inputs.outside_filters += (before - self.out.calls.len()) as u64;
        }
        self.out.inputs.kms_calls = self.out.calls.len() as u64;
        sort_rows(&mut self.out.calls);
        self.out.lifecycle.sort_by_key(|l| l.time_ms);
        self.out.trail_changes.sort_by_key(|t| t.time_ms);
        self.trail_scopes.sort_by_key(|s| s.time_ms);
        for t in &mut self.out.trail_changes {
            t.scope = scope_at(&self.trail_scopes, t);
        }
        self.out
    }
}

/// Where an alias lives: aliases belong to one account and region, so
/// `alias/orders` in two regions are two aliases ("Aliases in AWS KMS").
/// Account or region is `None` when the record did not say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AliasPlace {
    account: Option<String>,
    region: Option<String>,
    name: String,
}

impl AliasPlace {
    /// Whether a reference (account, region, name), parts possibly unknown,
    /// can mean this alias.
    fn fits(&self, account: Option<&str>, region: Option<&str>, name: &str) -> bool {
        let part = |want: Option<&str>, have: &Option<String>| {
            want.is_none() || have.is_none() || want == have.as_deref()
        };
        self.name == name && part(account, &self.account) && part(region, &self.region)
    }
}

/// One change to an alias: when (epoch ms, if known), and the key ARN it
/// names from then on (`None`: deleted).
type AliasChange = (Option<i64>, Option<String>);

/// Every alias's history: `CreateAlias`/`UpdateAlias` (target key ARN) and
/// `DeleteAlias` (`None`), by time, so a call resolves to the key its alias
/// named when and where it was made.
#[derive(Debug, Default)]
struct Aliases {
    history: HashMap<AliasPlace, Vec<AliasChange>>,
}

impl Aliases {
    fn note(&mut self, place: AliasPlace, time_ms: Option<i64>, target: Option<String>) {
        self.history
            .entry(place)
            .or_default()
            .push((time_ms, target));
    }

    fn sort(&mut self) {
        for changes in self.history.values_mut() {
            changes.sort_by_key(|(t, _)| *t);
        }
    }

    /// The key ARN an alias reference (`alias/NAME` or an alias ARN) named
    /// at `time_ms`: the last change at or before it, if that did not
    /// delete the alias. A call before every change known, or an alias
    /// deleted, stays unresolved: what the alias named then is not in the
    /// trail. Without a time, or without a place, it resolves only when
    /// every change that can apply names one and the same key.
    fn resolve(&self, key: &str, time_ms: Option<i64>) -> Option<String> {
        let (account, region, name) = call::alias_ref(key)?;
        let places: Vec<_> = self
            .history
            .iter()
            .filter(|(p, _)| p.fits(account, region, name))
            .collect();
        let exact = places
            .iter()
            .find(|(p, _)| p.account.as_deref() == account && p.region.as_deref() == region);
        if let (Some((_, changes)), Some(t)) = (exact, time_ms)
            && changes.iter().all(|(at, _)| at.is_some())
        {
            let before = changes
                .iter()
                .take_while(|(at, _)| at.is_some_and(|at| at <= t));
            return before.last().and_then(|(_, target)| target.clone());
        }
        let mut targets = places
            .iter()
            .flat_map(|(_, changes)| changes.iter().map(|(_, t)| t));
        let first = targets.next()?.clone()?;
        targets
            .all(|t| t.as_deref() == Some(&*first))
            .then_some(first)
    }

    /// `--key` as given, and for an alias (name or ARN) every key ARN it
    /// named in the trail: an alias ARN selects keys of its own account and
    /// region only, a bare name those of every place that has the alias.
    fn wanted(&self, want: &str) -> Vec<String> {
        let mut out = vec![want.to_owned()];
        let Some((account, region, name)) = call::alias_ref(want) else {
            return out;
        };
        for (place, changes) in &self.history {
            if place.fits(account, region, name) {
                out.extend(changes.iter().filter_map(|(_, t)| t.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A key matches a `--key` value given as ARN, bare id, or unresolved alias
/// (an alias name matches the alias ARN of any place).
fn key_matches(key: &str, want: &str) -> bool {
    key == want
        || key.rsplit_once("key/").is_some_and(|(_, id)| id == want)
        || (want.starts_with("alias/") && key.strip_suffix(want).is_some_and(|k| k.ends_with(':')))
}

fn lifecycle(ev: &Event, c: &KmsCall) -> Lifecycle {
    let policy = matches!(&*c.event_name, "PutKeyPolicy" | "CreateKey")
        .then(|| ev.request())
        .flatten()
        .and_then(|r| r.get("policy")?.as_str().map(str::to_owned));
    Lifecycle {
        key_arn: c.key.to_string(),
        event_name: c.event_name.to_string(),
        time_ms: c.time_ms,
        event_id: c.event_id.as_ref().map(ToString::to_string),
        actor: c
            .caller
            .principal_arn
            .clone()
            .or_else(|| c.caller.invoked_by.clone()),
        outcome: c.outcome,
        policy,
        grant: grant(ev, &c.event_name),
    }
}

/// The grant fields of a grant event (`docs/kms-events.md`, "Grants").
fn grant(ev: &Event, name: &str) -> Option<Grant> {
    if !matches!(name, "CreateGrant" | "RetireGrant" | "RevokeGrant") {
        return None;
    }
    let req = ev.request();
    let text = |v: Option<&serde_json::Value>, field: &str| {
        v.and_then(|v| v.get(field)?.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let resp = ev.response();
    let operations = req
        .as_ref()
        .and_then(|r| r.get("operations")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.as_str().map(str::to_owned))
        .collect();
    let extra = ev.additional();
    Some(Grant {
        grant_id: text(resp.as_ref(), "grantId")
            .or_else(|| text(req.as_ref(), "grantId"))
            .or_else(|| text(extra.as_ref(), "grantId")),
        grant_token: text(resp.as_ref(), "grantToken").or_else(|| text(req.as_ref(), "grantToken")),
        grantee_principal: text(req.as_ref(), "granteePrincipal"),
        retiring_principal: text(req.as_ref(), "retiringPrincipal"),
        operations,
    })
}

/// `PutEventSelectors`, `StopLogging`, `DeleteTrail` and friends, when they succeeded.
fn trail_change(ev: &Event) -> Option<TrailChange> {
    if ev.event_source.as_deref() != Some(call::TRAIL_SOURCE) || ev.error_code.is_some() {
        return None;
    }
    let name = ev.event_name.as_deref()?;
    if !call::TRAIL_LOGGING_EVENTS.contains(&name) {
        return None;
    }
    let req = ev.request();
    let trail = req.as_ref().and_then(|r| {
        r.get("trailName")
            .or_else(|| r.get("name"))?
            .as_str()
            .map(str::to_owned)
    });
    let excludes_kms = match name {
        "PutEventSelectors" => req.as_ref().is_some_and(selectors_exclude_kms),
        "StartLogging" => false,
        _ => true,
    };
    let c = call::caller(ev);
    let (account, region, trail) = trail_place(ev, trail.as_deref());
    Some(TrailChange {
        event_name: name.to_owned(),
        time_ms: ev.event_time.as_deref().and_then(call::parse_time),
        event_id: ev.event_id.clone(),
        actor: c.principal_arn.or(c.invoked_by),
        trail,
        excludes_kms,
        account,
        region,
        scope: TrailScope::Unknown,
    })
}

/// A trail's account, home region and name: from its ARN when the event
/// names it by ARN, else the event's `recipientAccountId` and `awsRegion`.
fn trail_place(ev: &Event, name: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    let from_arn = name.and_then(|n| {
        let (head, short) = n.strip_prefix("arn:")?.split_once(":trail/")?;
        let mut parts = head.split(':').skip(2);
        let region = parts.next()?.to_owned();
        let account = parts.next()?.to_owned();
        Some((account, region, short.to_owned()))
    });
    match from_arn {
        Some((account, region, short)) => (Some(account), Some(region), Some(short)),
        None => (
            ev.recipient_account_id.clone(),
            ev.aws_region.clone(),
            name.map(str::to_owned),
        ),
    }
}

/// The scope a successful `CreateTrail` or `UpdateTrail` gives its trail:
/// the response's `isMultiRegionTrail`/`isOrganizationTrail` (the whole
/// trail), else the request's.
fn trail_scope(ev: &Event) -> Option<ScopeChange> {
    if ev.event_source.as_deref() != Some(call::TRAIL_SOURCE)
        || ev.error_code.is_some()
        || !ev
            .event_name
            .as_deref()
            .is_some_and(|n| call::TRAIL_SCOPE_EVENTS.contains(&n))
    {
        return None;
    }
    let (req, resp) = (ev.request(), ev.response());
    let flag = |field: &str| {
        [&resp, &req]
            .into_iter()
            .find_map(|v| v.as_ref()?.get(field)?.as_bool())
    };
    let scope = match (flag("isOrganizationTrail"), flag("isMultiRegionTrail")) {
        (Some(true), _) => TrailScope::Organization,
        (_, Some(true)) => TrailScope::AllRegions,
        (_, Some(false)) => TrailScope::Region,
        _ => return None,
    };
    let name = [&resp, &req].into_iter().find_map(|v| {
        v.as_ref()?
            .get("trailARN")
            .or(v.as_ref()?.get("name"))?
            .as_str()
            .map(str::to_owned)
    })?;
    let (account, _, name) = trail_place(ev, Some(&name));
    Some(ScopeChange {
        account,
        name: name?,
        time_ms: ev.event_time.as_deref().and_then(call::parse_time),
        scope,
    })
}

/// The scope of the changed trail: its last `CreateTrail`/`UpdateTrail`
/// at or before the change (`scopes` sorted by time), else unknown.
fn scope_at(scopes: &[ScopeChange], t: &TrailChange) -> TrailScope {
    let Some(name) = t.trail.as_deref() else {
        return TrailScope::Unknown;
    };
    scopes
        .iter()
        .rfind(|s| {
            s.name == name
                && s.account == t.account
                && s.time_ms
                    .is_some_and(|st| t.time_ms.is_some_and(|tt| st <= tt))
        })
        .map_or(TrailScope::Unknown, |s| s.scope)
}

/// True when event selectors leave KMS (management) events out.
fn selectors_exclude_kms(req: &serde_json::Value) -> bool {
    let kms = |v: &serde_json::Value| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|s| s == "kms.amazonaws.com"))
    };
    let basic = req
        .get("eventSelectors")
        .and_then(|v| v.as_array())
        .is_some_and(|sels| {
            !sels.is_empty()
                && sels.iter().all(|s| {
                    s.get("includeManagementEvents") == Some(&serde_json::Value::Bool(false))
                        || kms(s
                            .get("excludeManagementEventSources")
                            .unwrap_or(&serde_json::Value::Null))
                })
        });
    let advanced = req
        .get("advancedEventSelectors")
        .and_then(|v| v.as_array())
        .is_some_and(|sels| {
            sels.iter().any(|s| {
                s.get("fieldSelectors")
                    .and_then(|f| f.as_array())
                    .is_some_and(|fs| {
                        fs.iter().any(|f| {
                            f.get("field") == Some(&"eventSource".into())
                                && kms(f.get("notEquals").unwrap_or(&serde_json::Value::Null))
                        })
                    })
            })
        });
    basic || advanced
}

/// Hashes a UUID by folding its bits: event IDs are random (version 4), so
/// their bits are already well spread and `SipHash`'s cost buys nothing.
#[derive(Default)]
struct UuidHasher(u64);

impl Hasher for UuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_u128(&mut self, v: u128) {
        #[allow(clippy::cast_possible_truncation)]
        let folded = (v as u64) ^ ((v >> 64) as u64);
        self.0 = folded.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Sorts rows by time, then event id, keeping ties (rows without an eventID
/// in one millisecond) in input order, as a stable sort does, but without
/// its scratch copy of half the rows (20 MB at 5 GB): the order is found on
/// row numbers (8 bytes a row) and applied by swaps, one cycle at a time.
fn sort_rows(calls: &mut [KmsCall]) {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&calls[a], &calls[b]);
        (x.time_ms, &x.event_id)
            .cmp(&(y.time_ms, &y.event_id))
            .then(a.cmp(&b))
    });
    // Place `i` takes the row at `order[i]`; a done place is marked MAX.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != usize::MAX {
            let from = order[at];
            order[at] = usize::MAX;
            if from == start {
                break;
            }
            calls.swap(at, from);
            at = from;
        }
    }
}

/// What records are deduplicated on: an `eventID`, compact when it is a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DedupKey {
    Uuid(u128),
    Other(String),
}

impl DedupKey {
    pub fn of(id: &str) -> Self {
        parse_uuid(id).map_or_else(|| Self::Other(id.to_owned()), Self::Uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode::decode;

    /// `RetireGrant` as the KMS guide's log entry shows it: null
    /// `requestParameters`, the grant id in `additionalEventData`.
    #[test]
    fn retire_grant_reads_its_grant_id_from_additional_event_data() {
        let text = r#"{"eventSource": "kms.amazonaws.com", "eventName": "RetireGrant",
            "requestParameters": null, "responseElements": null,
            "additionalEventData": {"grantId": "0ab0ac0d0b000f00ea00cc0a0e00fc00bce000c000f0000000c0bc0a0000aaafSAMPLE"}}"#;
        let ev: Event = serde_json::from_str(text).unwrap();
        let g = grant(&ev, "RetireGrant").unwrap();
        assert_eq!(
            g.grant_id.as_deref(),
            Some("0ab0ac0d0b000f00ea00cc0a0e00fc00bce000c000f0000000c0bc0a0000aaafSAMPLE")
        );
        assert_eq!(g.grantee_principal, None);
    }

    fn collect(inputs: &[&str], filters: Filters) -> Collected {
        let mut c = Collector::new(filters);
        for (i, text) in inputs.iter().enumerate() {
            c.add(&format!("input{i}"), decode(text.as_bytes()));
        }
        c.finish()
    }

    const KMS: &str = r#"{"eventID": "00000000-0000-0000-0000-00000000000X", "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt", "eventTime": "2026-11-20T10:00:0XZ",
        "resources": [{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:r:1:key/k"}]}"#;

    fn kms(n: u8) -> String {
        KMS.replace('X', &n.to_string()).replace('\n', " ")
    }

    fn assert_books(i: &Inputs) {
        assert_eq!(
            i.records,
            i.records_invalid + i.duplicates_dropped + i.non_kms + i.outside_filters + i.kms_calls
        );
    }

    /// Rows without an eventID in one millisecond keep their input order,
    /// as a stable sort keeps it, among rows sorted by time.
    #[test]
    fn tied_rows_keep_their_input_order() {
        let record = |key: usize, second: u8| {
            format!(
                r#"{{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                    "eventTime": "2026-11-20T10:00:{second:02}Z",
                    "resources": [{{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:r:1:key/k{key}"}}]}}"#
            )
        };
        // 300 rows in one second, with later and earlier rows around them.
        let mut records: Vec<String> = (0..300).map(|k| record(k, 30)).collect();
        records.insert(100, record(1000, 59));
        records.insert(0, record(1001, 1));
        let text = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        let out = collect(&[&text], Filters::default());
        let keys: Vec<&str> = out.calls.iter().map(|c| &*c.key).collect();
        let mut want = vec!["arn:aws:kms:r:1:key/k1001".to_owned()];
        want.extend((0..300).map(|k| format!("arn:aws:kms:r:1:key/k{k}")));
        want.push("arn:aws:kms:r:1:key/k1000".to_owned());
        assert_eq!(keys, want);

        // Many small ties in a scrambled order: as a stable sort puts them.
        let mut seed: u32 = 7;
        let seconds: Vec<u8> = (0..500)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                u8::try_from((seed >> 16) % 9).unwrap()
            })
            .collect();
        let records: Vec<String> = seconds
            .iter()
            .enumerate()
            .map(|(k, &s)| record(k, s))
            .collect();
        let text = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        let out = collect(&[&text], Filters::default());
        let keys: Vec<&str> = out.calls.iter().map(|c| &*c.key).collect();
        let mut want: Vec<(u8, usize)> = seconds.iter().copied().zip(0..).collect();
        want.sort_by_key(|&(s, _)| s);
        let want: Vec<String> = want
            .iter()
            .map(|(_, k)| format!("arn:aws:kms:r:1:key/k{k}"))
            .collect();
        assert_eq!(keys, want);
    }

    #[test]
    fn dedup_across_inputs_and_books_balance() {
        let a = format!(
            r#"{{"Records": [{}, {}, {{"eventSource": "s3.amazonaws.com"}}, 7]}}"#,
            kms(1),
            kms(2)
        );
        let b = format!("{}\n{}\nnot json\n", kms(2), kms(3));
        let out = collect(&[&a, &b], Filters::default());
        let i = &out.inputs;
        assert_eq!(
            (
                i.records,
                i.duplicates_dropped,
                i.non_kms,
                i.records_invalid,
                i.kms_calls
            ),
            (7, 1, 1, 2, 3)
        );
        assert_books(i);
        assert_eq!(out.failures.len(), 2, "{:?}", out.failures);
        assert!(out.failures[1].reason.starts_with("line 3:"));
    }

    #[test]
    fn filters_count_what_they_drop() {
        let a = format!(r#"{{"Records": [{}, {}, {}]}}"#, kms(1), kms(2), kms(3));
        let f = Filters {
            since_ms: call::parse_time("2026-11-20T10:00:02Z"),
            keys: vec!["k".into()],
            ..Filters::default()
        };
        let out = collect(&[&a], f);
        assert_eq!((out.inputs.kms_calls, out.inputs.outside_filters), (2, 1));
        assert_books(&out.inputs);
        let other = Filters {
            keys: vec!["other".into()],
            ..Filters::default()
        };
        assert_eq!(collect(&[&a], other).inputs.kms_calls, 0);
    }

    #[test]
    fn alias_resolves_for_key_filter() {
        let alias = r#"{"eventSource": "kms.amazonaws.com", "eventName": "CreateAlias", "awsRegion": "r",
            "recipientAccountId": "1", "requestParameters": {"aliasName": "alias/vault", "targetKeyId": "k"}}"#;
        let call = r#"{"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "requestParameters": {"keyId": "alias/vault"}}"#;
        let text = format!(r#"{{"Records": [{alias}, {call}]}}"#);
        let f = Filters {
            keys: vec!["alias/vault".into()],
            ..Filters::default()
        };
        let out = collect(&[&text], f);
        assert_eq!(out.inputs.kms_calls, 1);
        assert_eq!(&*out.calls[0].key, "arn:aws:kms:r:1:key/k");
    }

    /// A KMS record in CloudTrail's shape (field names and nesting of the
    /// real `CreateAlias`/`Decrypt` records in ../shared/real-samples).
    fn kms_record(name: &str, region: &str, time: &str, request: &str) -> String {
        format!(
            r#"{{"eventVersion": "1.08", "userIdentity": {{"type": "AssumedRole",
            "principalId": "AROAEXAMPLE:s1", "arn": "arn:aws:sts::111122223333:assumed-role/app/s1",
            "accountId": "111122223333", "sessionContext": {{"sessionIssuer": {{"type": "Role",
            "arn": "arn:aws:iam::111122223333:role/app", "accountId": "111122223333", "userName": "app"}}}}}},
            "eventTime": "{time}", "eventSource": "kms.amazonaws.com", "eventName": "{name}",
            "awsRegion": "{region}", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
            "requestParameters": {request}, "responseElements": null,
            "eventType": "AwsApiCall", "managementEvent": true, "readOnly": false,
            "recipientAccountId": "111122223333", "eventCategory": "Management"}}"#
        )
    }

    fn set_alias(name: &str, region: &str, time: &str, target: &str) -> String {
        let req = format!(r#"{{"aliasName": "alias/orders", "targetKeyId": "{target}"}}"#);
        kms_record(name, region, time, &req)
    }

    fn decrypt_via_alias(region: &str, time: &str) -> String {
        let req = r#"{"keyId": "alias/orders", "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#;
        kms_record("Decrypt", region, time, req)
    }

    /// Synthetic scenario (not a real trail): `alias/orders` exists in
    /// us-east-1 (the primary of multi-Region key `mrk-1`) and in eu-west-1
    /// (first a single-Region key, then the `mrk-1` replica); the Decrypt
    /// records name only `alias/orders`.
    fn two_region_alias_trail() -> String {
        let records = [
            decrypt_via_alias("eu-west-1", "2026-03-01T09:00:00Z"),
            set_alias("CreateAlias", "us-east-1", "2026-03-01T10:00:00Z", "mrk-1"),
            set_alias("CreateAlias", "eu-west-1", "2026-03-01T10:00:00Z", "k-old"),
            decrypt_via_alias("eu-west-1", "2026-03-01T11:00:00Z"),
            // Logged out of order: the update is read after the call it precedes.
            decrypt_via_alias("eu-west-1", "2026-03-01T13:00:00Z"),
            set_alias(
                "UpdateAlias",
                "eu-west-1",
                "2026-03-01T12:00:00Z",
                "arn:aws:kms:eu-west-1:111122223333:key/mrk-1",
            ),
            decrypt_via_alias("us-east-1", "2026-03-01T13:00:00Z"),
            kms_record(
                "DeleteAlias",
                "us-east-1",
                "2026-03-01T14:00:00Z",
                r#"{"aliasName": "alias/orders"}"#,
            ),
            decrypt_via_alias("us-east-1", "2026-03-01T15:00:00Z"),
        ];
        format!(r#"{{"Records": [{}]}}"#, records.join(","))
    }

    fn decrypt_keys(out: &Collected) -> Vec<(String, &str)> {
        out.calls
            .iter()
            .filter(|c| &*c.event_name == "Decrypt")
            .map(|c| (c.region.as_deref().unwrap_or_default().to_owned(), &*c.key))
            .collect()
    }

    #[test]
    fn aliases_resolve_by_account_region_and_time() {
        let out = collect(&[&two_region_alias_trail()], Filters::default());
        let eu = "arn:aws:kms:eu-west-1:111122223333";
        let us = "arn:aws:kms:us-east-1:111122223333";
        let want = [
            // Before any alias change seen: what it named is not in the trail.
            ("eu-west-1", format!("{eu}:alias/orders")),
            ("eu-west-1", format!("{eu}:key/k-old")),
            ("eu-west-1", format!("{eu}:key/mrk-1")),
            ("us-east-1", format!("{us}:key/mrk-1")),
            // After DeleteAlias.
            ("us-east-1", format!("{us}:alias/orders")),
        ];
        let got = decrypt_keys(&out);
        let want: Vec<(String, &str)> = want
            .iter()
            .map(|(r, k)| ((*r).to_owned(), k.as_str()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn alias_arn_key_filter_selects_its_region_only() {
        let only_eu = Filters {
            keys: vec!["arn:aws:kms:eu-west-1:111122223333:alias/orders".into()],
            ..Filters::default()
        };
        let out = collect(&[&two_region_alias_trail()], only_eu);
        let regions: Vec<String> = decrypt_keys(&out).into_iter().map(|(r, _)| r).collect();
        assert_eq!(regions, ["eu-west-1"; 3]);
        assert_books(&out.inputs);
        // The name alone selects the alias in every region.
        let by_name = Filters {
            keys: vec!["alias/orders".into()],
            ..Filters::default()
        };
        let out = collect(&[&two_region_alias_trail()], by_name);
        assert_eq!(decrypt_keys(&out).len(), 5);
        // A replica's key ARN selects that replica, not the primary.
        let replica = Filters {
            keys: vec!["arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()],
            ..Filters::default()
        };
        let out = collect(&[&two_region_alias_trail()], replica);
        let got = decrypt_keys(&out);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "eu-west-1");
    }

    #[test]
    fn uuid_parsing() {
        assert_eq!(parse_uuid("00000000-0000-0000-0000-000000000010"), Some(16));
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(
            parse_uuid("AAAAAAAA-0000-0000-0000-000000000000"),
            parse_uuid("aaaaaaaa-0000-0000-0000-000000000000")
        );
    }
}
