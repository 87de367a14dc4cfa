//! The first pass of `--redact`: every string of the [`Analysis`], in the
//! analysis's order, through [`Redactor::text`], knowing what each field
//! is: event ids are kept, encryption-context values replaced whole, local
//! paths cut to their file name, policy documents walked key by key.

use std::sync::Arc;

use serde_json::Value;

use super::{CONTEXT_KEY, Kind, Redactor};
use crate::analysis::Analysis;
use crate::analysis::causes::{Cause, ChangeRef};
use crate::analysis::diagnosis::fixes::{CheckSubject, ProposedFix};
use crate::analysis::diagnosis::{Blocked, StatementRef};
use crate::analysis::groups::Contrast;
use crate::analysis::verdicts::{Reason, Verdict};
use crate::call::Caller;
use crate::policy::{ConditionTrace, Seen};

impl Redactor {
    /// Notes event ids (kept) and encryption-context values before any
    /// rewriting, so that the first string rewritten already knows them.
    pub(super) fn gather(&mut self, a: &Analysis) {
        let ids = a
            .groups
            .iter()
            .flat_map(|g| &g.sample_event_ids)
            .chain(a.timeline.iter().filter_map(|l| l.event_id.as_ref()))
            .chain(a.trail_changes.iter().filter_map(|t| t.event_id.as_ref()))
            .chain(a.policies.iter().filter_map(|p| p.event_id.as_ref()))
            .chain(a.causes.iter().filter_map(|c| c.event.event_id.as_ref()))
            .chain(
                a.causes
                    .iter()
                    .filter_map(|c| c.resolved_by.as_ref()?.event_id.as_ref()),
            )
            .chain(a.blocked.iter().flat_map(|b| {
                let resolved = b.resolved_by.as_ref().and_then(|p| p.event_id.as_ref());
                b.policy.event_id.iter().chain(resolved)
            }))
            .chain(a.policy_errors.iter().filter_map(|e| e.event_id.as_ref()))
            .chain(a.groups.iter().filter_map(|g| match &g.contrast {
                Some(Contrast::WentSilent { after_event_id, .. }) => after_event_id.as_ref(),
                _ => None,
            }))
            .chain(
                a.verdicts
                    .iter()
                    .flat_map(|v| &v.evidence)
                    .filter_map(|e| e.event_id.as_ref()),
            );
        self.keep.extend(ids.cloned());
        let traces = a.blocked.iter().flat_map(|b| &b.evidence);
        let mut values: Vec<String> = Vec::new();
        for t in traces.filter(|t| t.key.starts_with(CONTEXT_KEY)) {
            values.extend(t.values.iter().cloned());
            if let Seen::Present(v) = &t.seen {
                values.extend(v.iter().cloned());
            }
        }
        for f in a.causes.iter().flat_map(|c| &c.fixes) {
            context_values(&f.policy, false, &mut values);
        }
        for v in values {
            if !v.starts_with("arn:") && !self.context.iter().any(|(o, _)| *o == v) {
                let p = self.name(Kind::Context, &v);
                self.context.push((v, p));
            }
        }
    }

    fn s(&mut self, s: &mut String) {
        if let Some((_, p)) = self.context.iter().find(|(o, _)| o == s) {
            *s = p.clone();
        } else {
            *s = self.text(s);
        }
    }

    fn o(&mut self, s: &mut Option<String>) {
        if let Some(s) = s {
            self.s(s);
        }
    }

    fn all(&mut self, v: &mut [String]) {
        for s in v {
            self.s(s);
        }
    }

    /// A local file path: only its file name is kept (a home directory
    /// names a person); remote sources are rewritten as text.
    fn path(&mut self, s: &mut String) {
        if !s.contains("://") && !s.starts_with("kms:") && s.contains('/') {
            let name = s.rsplit('/').next().unwrap_or_default().to_owned();
            *s = format!(".../{name}");
        }
        self.s(s);
    }

    fn caller(&mut self, c: &mut Caller) {
        self.o(&mut c.invoked_by);
        self.o(&mut c.principal_arn);
        self.o(&mut c.account_id);
    }

    fn statement(&mut self, s: &mut StatementRef) {
        self.o(&mut s.sid);
    }

    fn change(&mut self, c: &mut ChangeRef) {
        self.o(&mut c.actor);
    }

    /// A condition's trace: its values and those seen, by the key's kind.
    fn trace(&mut self, t: &mut ConditionTrace) {
        let values = Arc::make_mut(&mut t.values);
        for v in values.iter_mut() {
            *v = self.condition_value(&t.key, v);
        }
        if let Seen::Present(vs) = &mut t.seen {
            for v in vs.iter_mut() {
                *v = self.condition_value(&t.key, v);
            }
        }
        self.o(&mut t.note);
    }

    fn subject(&mut self, s: &mut CheckSubject) {
        match s {
            CheckSubject::ThisRequest => {}
            CheckSubject::Blocked { caller, .. } | CheckSubject::Observed { caller, .. } => {
                self.caller(caller);
            }
            CheckSubject::Exempted { principal_arn } => self.s(principal_arn),
            CheckSubject::Probe { principal, .. } => self.s(principal),
        }
    }

    fn fix(&mut self, f: &mut ProposedFix) {
        if let Some(s) = &mut f.statement {
            self.statement(s);
        }
        self.s(&mut f.description);
        self.policy(&mut f.policy, None);
        f.diff = self.fix_diff(&f.diff);
        for c in &mut f.checks {
            self.subject(&mut c.subject);
        }
        for c in &mut f.still_blocked {
            self.caller(c);
        }
        for s in &mut f.lets_in {
            self.subject(s);
        }
        self.all(&mut f.warnings);
    }

    /// A policy document: the values of a condition key that names someone
    /// by the key's kind (`aws:username`, a tag, encryption context), every
    /// other string as text; object keys (condition keys and operators,
    /// `Sid`, ...) are kept. `key` is the object key `v` is under.
    fn policy(&mut self, v: &mut Value, key: Option<&str>) {
        match v {
            Value::String(s) => {
                *s = match key {
                    Some(k) => self.condition_value(k, s),
                    None => self.text(s),
                };
            }
            Value::Array(items) => {
                for i in items {
                    self.policy(i, key);
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k == "Sid" {
                        if let Value::String(s) = v {
                            *s = self.text(s);
                        }
                        continue;
                    }
                    self.policy(v, Some(k));
                }
            }
            _ => {}
        }
    }

    /// A policy as CloudTrail logged it: walked as a document when it
    /// parses, else rewritten as text.
    fn policy_text(&mut self, p: &mut String) {
        match serde_json::from_str::<Value>(p) {
            Ok(mut v) => {
                self.policy(&mut v, None);
                *p = v.to_string();
            }
            Err(_) => *p = self.text(p),
        }
    }

    fn cause(&mut self, c: &mut Cause) {
        self.s(&mut c.key_arn);
        self.change(&mut c.event);
        if let Some(st) = &mut c.statements {
            for s in st
                .added
                .iter_mut()
                .chain(&mut st.removed)
                .chain(&mut st.changed)
            {
                self.statement(s);
            }
        }
        for b in &mut c.blocking {
            self.statement(&mut b.statement);
            for caller in &mut b.callers {
                self.caller(caller);
            }
        }
        for caller in &mut c.affected {
            self.caller(caller);
        }
        if let Some(r) = &mut c.resolved_by {
            self.change(r);
        }
        for f in &mut c.fixes {
            self.fix(f);
        }
        for f in &mut c.fix_failures {
            self.s(&mut f.reason);
        }
    }

    fn blocked(&mut self, b: &mut Blocked) {
        self.s(&mut b.key_arn);
        self.caller(&mut b.caller);
        self.statement(&mut b.statement);
        for t in &mut b.evidence {
            self.trace(t);
        }
        self.o(&mut b.policy.origin);
        if let Some(p) = &mut b.resolved_by {
            self.o(&mut p.origin);
        }
    }

    fn reason(&mut self, r: &mut Reason) {
        match r {
            Reason::KeyPolicy { statement, .. } => self.statement(statement),
            Reason::GrantRemoved {
                grantee_principal, ..
            } => self.s(grantee_principal),
            Reason::TrailStoppedKms {
                trail,
                trail_account,
                ..
            } => {
                self.trail(trail);
                self.o(trail_account);
            }
            Reason::CrossAccount {
                caller_account,
                key_account,
                ..
            } => {
                self.s(caller_account);
                self.s(key_account);
            }
            Reason::OtherPolicy { .. }
            | Reason::KeyDisabled { .. }
            | Reason::KeyPendingDeletion { .. }
            | Reason::KeyState { .. }
            | Reason::WentSilent { .. }
            | Reason::NoCalls
            | Reason::Unexplained => {}
        }
    }

    /// A trail: an ARN as text, a bare name replaced whole.
    fn trail(&mut self, t: &mut Option<String>) {
        if let Some(name) = t {
            *name = if name.starts_with("arn:") {
                self.text(name)
            } else {
                self.name(Kind::Trail, name)
            };
        }
    }

    /// Every string of `a`, in the analysis's order (pseudonyms are
    /// numbered by first sight): inputs, causes, calls, changes, blocked
    /// and unexplained callers, verdicts, the chart's series.
    pub(super) fn analysis(&mut self, a: &mut Analysis) {
        self.inputs(a);
        for c in &mut a.causes {
            self.cause(c);
        }
        for g in &mut a.groups {
            self.s(&mut g.key_arn);
            self.caller(&mut g.caller);
            self.all(&mut g.denied_messages);
        }
        self.changes(a);
        for b in &mut a.blocked {
            self.blocked(b);
        }
        for u in &mut a.unexplained {
            self.s(&mut u.key_arn);
            self.caller(&mut u.caller);
        }
        for v in &mut a.verdicts {
            self.verdict(v);
        }
        for s in &mut a.buckets {
            self.s(&mut s.key_arn);
            self.caller(&mut s.caller);
        }
    }

    /// The inputs read and those that failed.
    fn inputs(&mut self, a: &mut Analysis) {
        for f in &mut a.inputs_per_file {
            self.path(&mut f.source);
        }
        for f in &mut a.failures {
            self.path(&mut f.source);
            self.s(&mut f.reason);
        }
    }

    /// The keys' changes, the trails' changes, the policy versions and the
    /// policies that did not parse.
    fn changes(&mut self, a: &mut Analysis) {
        for l in &mut a.timeline {
            self.s(&mut l.key_arn);
            self.o(&mut l.actor);
            if let Some(p) = &mut l.policy {
                self.policy_text(p);
            }
            if let Some(g) = &mut l.grant {
                g.grant_token = None;
                self.o(&mut g.grantee_principal);
                self.o(&mut g.retiring_principal);
            }
        }
        for t in &mut a.trail_changes {
            self.o(&mut t.actor);
            self.trail(&mut t.trail);
            self.o(&mut t.account);
        }
        for p in &mut a.policies {
            self.s(&mut p.key_arn);
            if let Some(o) = &mut p.origin {
                self.path(o);
            }
        }
        for e in &mut a.policy_errors {
            self.s(&mut e.key_arn);
            self.s(&mut e.reason);
        }
    }

    fn verdict(&mut self, v: &mut Verdict) {
        self.s(&mut v.key_arn);
        if let Some(c) = &mut v.caller {
            self.caller(c);
        }
        self.reason(&mut v.reason);
        for e in &mut v.evidence {
            self.o(&mut e.actor);
        }
        self.o(&mut v.look_in_account);
    }
}

/// The encryption-context values of a policy document.
fn context_values(v: &Value, context: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if context => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| context_values(i, context, out)),
        Value::Object(map) => {
            for (k, v) in map {
                context_values(v, k.starts_with(CONTEXT_KEY), out);
            }
        }
        _ => {}
    }
}
