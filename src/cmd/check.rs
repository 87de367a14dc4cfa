//! `denydiff check`: read the proposal (a key policy, a Terraform plan or a
//! CloudFormation template), read the trail, tie the proposal's policies to
//! the keys the trail shows, replay every observed caller against the
//! policy in force and the proposed one, and write the report.

use anyhow::Context;

use crate::analysis::policies::{KeyPolicy, PolicySet, PolicySource};
use crate::analysis::preflight::{self, CheckVerdict, KeyInput};
use crate::proposal::{self, Proposal, ProposalRef, Unseen, sid_line};
use crate::report::preflight_report::Preflight;
use crate::settings::CheckSettings;
use crate::{ExitStatus, report};

pub fn run(s: &CheckSettings) -> anyhow::Result<ExitStatus> {
    // A bad proposal is an error before any trail is read.
    let proposal = proposal::read(&s.proposal)?;
    // `--current` goes in as `analyze --policy` does: it overrides the
    // trail's versions of the keys `--key` selects (or of the one key).
    let (collected, policies) =
        super::analyze::read_trail(&s.trail, s.current.as_ref(), "--current")?;
    let trail_keys = super::trail_keys(&collected.calls);
    let named = || format!("the proposal `{}`", proposal.path.display());
    let selection =
        proposal::select(&proposal, &trail_keys, s.resource.as_deref()).with_context(named)?;
    let mut proposed = Vec::new();
    for (key, i) in &selection.checks {
        let c = &proposal.candidates[*i];
        let policy = c
            .policy(proposal.kind, &s.parameters, &proposal.declared, key)
            .with_context(named)?;
        proposed.push((key.as_str(), c.resource.clone(), policy));
    }
    let inputs: Vec<KeyInput<'_>> = proposed
        .iter()
        .map(|(key, resource, policy)| KeyInput {
            key_arn: key,
            current: in_force(&policies, key, s.trail.filters.until_ms),
            proposed: policy,
            resource: resource.clone(),
        })
        .collect();
    let mut keys = preflight::preflight(&collected.calls, &inputs, s.trail.org_id.as_deref());
    // `keys` follow `selection.checks`: each key's candidate gives the
    // block of the file its statements' lines are looked for in.
    for (k, (_, i)) in keys.iter_mut().zip(&selection.checks) {
        for c in k
            .lose
            .iter_mut()
            .chain(&mut k.still_denied)
            .chain(&mut k.undetermined)
            .chain(&mut k.gain)
        {
            c.line = c
                .statement
                .as_ref()
                .and_then(|st| st.sid.as_deref())
                .and_then(|sid| sid_line(&proposal, *i, sid));
        }
    }
    let verdict = preflight::verdict(&keys, !collected.failures.is_empty());
    let result = Preflight {
        proposal: ProposalRef {
            path: proposal.path.display().to_string(),
            kind: proposal.kind,
        },
        verdict,
        keys,
        unseen: unseen(&proposal, &selection.unseen),
        inputs: collected.inputs,
        failures: collected.failures,
        policy_errors: policies.errors.clone(),
    };
    write_report(s, &result)?;
    Ok(match result.verdict {
        CheckVerdict::Lose | CheckVerdict::StillDenied => ExitStatus::Decision(3),
        CheckVerdict::Undetermined => ExitStatus::Decision(4),
        // A trail read in part (or filtered to nothing) proves no pass.
        CheckVerdict::NotProven => ExitStatus::InputsFailed,
        CheckVerdict::Pass => ExitStatus::Ok,
    })
}

/// The policy in force at the end of the window: `--current` when given;
/// else, when the trail shows versions of the key, the latest set by then
/// (the trail's policy changes are read whatever the window; none when
/// all come later); else the fetched one (`PolicySet::epochs`).
fn in_force<'p>(
    policies: &'p PolicySet,
    key: &str,
    until_ms: Option<i64>,
) -> Option<&'p KeyPolicy> {
    policies.epochs(key).iter().rev().find(|p| {
        p.source != PolicySource::Trail || until_ms.is_none_or(|u| p.time_ms.is_none_or(|t| t <= u))
    })
}

fn unseen(p: &Proposal, which: &[usize]) -> Vec<Unseen> {
    which
        .iter()
        .map(|&i| Unseen {
            resource: p.candidates[i].resource.clone(),
            key_ref: p.candidates[i].key_ref.clone(),
            creates: p.candidates[i].creates,
        })
        .collect()
}

fn write_report(s: &CheckSettings, r: &Preflight) -> anyhow::Result<()> {
    super::write_output(s.output.as_deref(), |mut w| {
        report::preflight_report::render(r, s.format, &mut w)
    })
}
