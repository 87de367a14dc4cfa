//! `denydiff check`: read the proposal (a key policy, a Terraform plan or a
//! CloudFormation template), read the trail, tie the proposal's policies to
//! the keys the trail shows, replay every observed caller against the
//! policy in force and the proposed one, and write the report.

use crate::analysis::policies::{KeyPolicy, PolicySet, PolicySource};
use crate::analysis::preflight::{self, CheckVerdict, KeyInput};
use crate::proposal::{self, Proposal, ProposalKind, ProposalRef, Unseen, sid_line};
use crate::report::preflight_report::Preflight;
use crate::settings::CheckSettings;
use crate::{ExitStatus, report};

pub fn run(s: &CheckSettings) -> anyhow::Result<ExitStatus> {
    // A bad proposal is an error before any trail is read.
    let proposal = proposal::read(&s.proposal)?;
    let (collected, mut policies) = super::analyze::read_trail(&s.trail, None, "--current")?;
    let trail_keys = super::trail_keys(&collected.calls);
    let in_file = |e: proposal::ProposalError| e.in_file(&proposal.path);
    // A key policy names no key: with several left, `--current` is the
    // flag to name (as `analyze --policy` says).
    if let Some((path, _)) = &s.current
        && proposal.kind == ProposalKind::KeyPolicy
        && trail_keys.len() > 1
    {
        anyhow::bail!(
            "`--current {}` would apply to {} keys\nhint: name the key it belongs to with `--key`",
            path.display(),
            trail_keys.len()
        );
    }
    let selection =
        proposal::select(&proposal, &trail_keys, s.resource.as_deref()).map_err(in_file)?;
    // `--current` is the policy in force of the key the proposal names
    // (a plan or template may name it), not of every key the trail shows.
    if let Some((path, policy)) = &s.current {
        let mut checked: Vec<&str> = selection.checks.iter().map(|(k, _)| k.as_str()).collect();
        checked.sort_unstable();
        checked.dedup();
        if checked.len() > 1 {
            anyhow::bail!(
                "`--current {}` would apply to {} keys the proposal names\nhint: choose one of its resources with `--resource`",
                path.display(),
                checked.len()
            );
        }
        for key in checked {
            policies.add(KeyPolicy::from_file(key.to_owned(), path, policy));
        }
    }
    let mut proposed = Vec::new();
    for (key, i) in &selection.checks {
        let c = &proposal.candidates[*i];
        let policy = c
            .policy(proposal.kind, &s.parameters, &proposal.declared, key)
            .map_err(in_file)?;
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
/// else, with no `--until`, the one `--fetch-policy` fetched (the live
/// policy, which may postdate the trail's last change); else the latest
/// version the trail shows set by `--until` (the trail's policy changes
/// are read whatever the window; none when all come later); else, when
/// the trail shows no version at all, the fetched one.
fn in_force<'p>(
    policies: &'p PolicySet,
    key: &str,
    until_ms: Option<i64>,
) -> Option<&'p KeyPolicy> {
    let versions = policies.versions(key);
    let of = |source| versions.iter().rev().find(|p| p.source == source);
    let trail = || {
        versions.iter().rev().find(|p| {
            p.source == PolicySource::Trail
                && until_ms.is_none_or(|u| p.time_ms.is_none_or(|t| t <= u))
        })
    };
    let no_trail = || of(PolicySource::Trail).is_none();
    of(PolicySource::File)
        .or_else(|| of(PolicySource::Api).filter(|_| until_ms.is_none()))
        .or_else(trail)
        .or_else(|| of(PolicySource::Api).filter(|_| no_trail()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/k";

    fn version(source: PolicySource, time_ms: Option<i64>) -> KeyPolicy {
        KeyPolicy {
            key_arn: KEY.into(),
            source,
            origin: None,
            event_id: time_ms.map(|t| format!("{source:?}@{t}")),
            time_ms,
            actor: None,
            event_name: None,
            policy: crate::policy::parse_policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#)
                .unwrap(),
        }
    }

    fn in_force_of(set: &PolicySet, until: Option<i64>) -> Option<(PolicySource, Option<i64>)> {
        in_force(set, KEY, until).map(|p| (p.source, p.time_ms))
    }

    #[test]
    fn fetched_wins_without_until_and_the_trail_at_until_wins_with_it() {
        let mut set = PolicySet::default();
        set.add(version(PolicySource::Trail, Some(10)));
        set.add(version(PolicySource::Trail, Some(20)));
        set.add(version(PolicySource::Api, None));
        // No `--until`: the live policy is what is in force.
        assert_eq!(in_force_of(&set, None), Some((PolicySource::Api, None)));
        // At `--until`, the trail's version set by then.
        assert_eq!(
            in_force_of(&set, Some(15)),
            Some((PolicySource::Trail, Some(10)))
        );
        // Before every trail version: none known (the fetched one is today's).
        assert_eq!(in_force_of(&set, Some(5)), None);
        // `--current` beats both.
        set.add(version(PolicySource::File, None));
        assert_eq!(in_force_of(&set, None), Some((PolicySource::File, None)));
        assert_eq!(
            in_force_of(&set, Some(15)),
            Some((PolicySource::File, None))
        );
    }

    #[test]
    fn without_trail_versions_the_fetched_one_is_in_force_at_until() {
        let mut set = PolicySet::default();
        set.add(version(PolicySource::Api, None));
        assert_eq!(in_force_of(&set, Some(5)), Some((PolicySource::Api, None)));
        set = PolicySet::default();
        set.add(version(PolicySource::Trail, Some(10)));
        assert_eq!(
            in_force_of(&set, None),
            Some((PolicySource::Trail, Some(10)))
        );
    }
}
