//! Key policies in a Terraform plan's JSON representation (`terraform show
//! -json plan.out`; `docs/preflight.md`): `aws_kms_key` (`policy`, and
//! `arn`/`key_id` once the key exists) and `aws_kms_key_policy` (`key_id`,
//! `policy`), from `resource_changes[].change.after`, then from
//! `planned_values` (root module and child modules, recursively) for what
//! `resource_changes` does not list. A state's representation (`values`)
//! reads the same way.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Candidate, ProposalError};

const KEY: &str = "aws_kms_key";
const KEY_POLICY: &str = "aws_kms_key_policy";

/// Every KMS key policy the plan sets.
pub fn candidates(plan: &Value) -> Result<Vec<Candidate>, ProposalError> {
    check_version(plan)?;
    // Each KMS resource once, whether `resource_changes`, `planned_values`
    // or both list it: the count goes in the error when none sets a policy.
    let mut kms_resources: BTreeSet<&str> = BTreeSet::new();
    let mut out = from_changes(plan, &mut kms_resources)?;
    let mut planned = Vec::new();
    for root in ["planned_values", "values"] {
        if let Some(m) = plan.get(root).and_then(|v| v.get("root_module")) {
            module_resources(m, &mut planned);
        }
    }
    for r in planned {
        let Some((address, kind)) = kms_resource(r) else {
            continue;
        };
        kms_resources.insert(address);
        if out.iter().any(|c| c.resource.as_deref() == Some(address)) {
            continue;
        }
        if let Some(c) = candidate(address, kind, r.get("values"), None)? {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(ProposalError::NoTerraformPolicy {
            what: "the plan",
            detail: match kms_resources.len() {
                0 => ": it has no `aws_kms_key` or `aws_kms_key_policy` resource".to_owned(),
                1 => ": its KMS resource sets no `policy` (or is deleted)".to_owned(),
                n => format!(": its {n} KMS resources set no `policy` (or are deleted)"),
            },
        });
    }
    Ok(out)
}

/// A new major version is not backward-compatible: reject it.
fn check_version(plan: &Value) -> Result<(), ProposalError> {
    let version = plan
        .get("format_version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version.split('.').next() == Some("1") {
        return Ok(());
    }
    Err(ProposalError::Malformed {
        at: "format_version".into(),
        reason: format!("is `{version}`; this reads major version 1 of Terraform's JSON format"),
    })
}

/// The candidates of `resource_changes`, adding each KMS address to `seen`.
fn from_changes<'v>(
    plan: &'v Value,
    seen: &mut BTreeSet<&'v str>,
) -> Result<Vec<Candidate>, ProposalError> {
    let mut out = Vec::new();
    let Some(changes) = plan.get("resource_changes").and_then(Value::as_array) else {
        return Ok(out);
    };
    for rc in changes {
        let Some((address, kind)) = kms_resource(rc) else {
            continue;
        };
        seen.insert(address);
        let change = rc.get("change");
        let actions: Vec<&str> = change
            .and_then(|c| c.get("actions"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let after = change.and_then(|c| c.get("after"));
        if actions == ["delete"] || after.is_none_or(Value::is_null) {
            continue;
        }
        let unknown = |field: &str| {
            change
                .and_then(|c| c.get("after_unknown"))
                .and_then(|u| u.get(field))
                .and_then(Value::as_bool)
                == Some(true)
        };
        // A key the plan creates has no callers yet, whatever its policy
        // (usually computed, or set by an `aws_kms_key_policy` whose
        // `key_id` is the new key's, unknown until apply): asked before
        // whether the policy is known.
        let creates = if kind == KEY {
            actions == ["create"]
        } else {
            unknown("key_id")
        };
        if creates && (unknown("policy") || after.and_then(|a| a.get("policy")).is_none()) {
            out.push(Candidate {
                resource: Some(address.to_owned()),
                key_ref: None,
                document: Value::Null,
                at: format!("{address}.policy"),
                creates,
            });
            continue;
        }
        if unknown("policy") {
            return Err(ProposalError::UnknownUntilApply {
                at: format!("{address}.policy"),
            });
        }
        let before = change.and_then(|c| c.get("before"));
        if let Some(mut c) = candidate(address, kind, after, before)? {
            c.creates = creates;
            out.push(c);
        }
    }
    Ok(out)
}

/// A managed `aws_kms_key` or `aws_kms_key_policy`: its address and type.
fn kms_resource(r: &Value) -> Option<(&str, &str)> {
    let kind = r.get("type").and_then(Value::as_str)?;
    let managed = r
        .get("mode")
        .and_then(Value::as_str)
        .is_none_or(|m| m == "managed");
    (managed && (kind == KEY || kind == KEY_POLICY))
        .then(|| r.get("address").and_then(Value::as_str))
        .flatten()
        .map(|a| (a, kind))
}

/// The resources of a module and of its child modules, recursively.
fn module_resources<'v>(module: &'v Value, out: &mut Vec<&'v Value>) {
    if let Some(rs) = module.get("resources").and_then(Value::as_array) {
        out.extend(rs);
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for c in children {
            module_resources(c, out);
        }
    }
}

/// The candidate a resource's values make, if they set a policy.
fn candidate(
    address: &str,
    kind: &str,
    values: Option<&Value>,
    before: Option<&Value>,
) -> Result<Option<Candidate>, ProposalError> {
    let at = format!("{address}.policy");
    let Some(text) = values.and_then(|v| v.get("policy")) else {
        return Ok(None);
    };
    let text = match text {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s,
        other => {
            return Err(ProposalError::Malformed {
                at,
                reason: format!("must be a JSON string, found `{other}`"),
            });
        }
    };
    let document: Value = serde_json::from_str(text).map_err(|e| ProposalError::Malformed {
        at: at.clone(),
        reason: format!("is not valid JSON: {e}"),
    })?;
    let known = |v: Option<&Value>, field: &str| {
        v.and_then(|v| v.get(field))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let key_ref = if kind == KEY {
        known(values, "arn")
            .or_else(|| known(values, "key_id"))
            .or_else(|| known(before, "arn"))
            .or_else(|| known(before, "key_id"))
    } else {
        known(values, "key_id").or_else(|| known(before, "key_id"))
    };
    Ok(Some(Candidate {
        resource: Some(address.to_owned()),
        key_ref,
        document,
        at,
        creates: false,
    }))
}
