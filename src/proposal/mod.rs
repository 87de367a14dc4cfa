//! Proposed key policies, read from what a change is written in: a key
//! policy document, a Terraform plan (`terraform show -json`), or a
//! CloudFormation template (JSON or YAML). The kind is told by content,
//! not by the file name (`docs/preflight.md`).
//!
//! Reading yields candidates (one per key policy the file sets, with the
//! resource it belongs to and the key it names, when it names one);
//! [`select`] ties them to the keys the trail shows, and
//! [`Candidate::policy`] resolves what a template leaves to deployment
//! (`Ref`, `Fn::Sub`, ...) and parses the document. No words beyond error
//! messages; no I/O but [`read`].

pub mod cloudformation;
pub mod terraform;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::arn::Arn;
use crate::policy::{ParseError, Policy, parse_policy_value};
use cloudformation::Declared;

/// What the proposal file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProposalKind {
    KeyPolicy,
    TerraformPlan,
    CloudFormation,
}

/// The proposal file, as the check report names it.
#[derive(Debug, Serialize)]
pub struct ProposalRef {
    pub path: String,
    pub kind: ProposalKind,
}

/// A resource whose key the trail never shows (or that the proposal creates).
#[derive(Debug, Serialize)]
pub struct Unseen {
    pub resource: Option<String>,
    pub key_ref: Option<String>,
    /// The proposal creates the key.
    pub creates: bool,
}

/// One key policy a proposal sets, not yet tied to a key.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The Terraform address (`aws_kms_key.vault`) or the CloudFormation
    /// logical id; `None` for a plain key policy.
    pub resource: Option<String>,
    /// The key ARN or key id the proposal names, when it knows it (an
    /// existing key in a Terraform plan).
    pub key_ref: Option<String>,
    /// The document as written (a template's intrinsics unresolved).
    pub document: Value,
    /// Where the document sits in the file: `Resources.Key.Properties.KeyPolicy`.
    pub at: String,
    /// The plan creates the key: no caller can have used it yet.
    pub creates: bool,
}

/// A proposal file, read.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub path: PathBuf,
    pub kind: ProposalKind,
    /// The file's text, to find a statement's line in.
    pub text: String,
    pub candidates: Vec<Candidate>,
    /// CloudFormation: the parameters the template declares.
    pub declared: Declared,
}

/// Why a proposal cannot be checked. Paths in messages are the file's
/// `at` (`Resources.Key.Properties.KeyPolicy.Statement[1].Principal.AWS`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("is not valid JSON: {0}")]
    Json(String),
    #[error("is not valid YAML: {0}")]
    Yaml(String),
    #[error(
        "is not a key policy, a Terraform plan or a CloudFormation template\nhint: give a key policy (`{{\"Statement\": [...]}}`), `terraform show -json` output, or a template with `Resources`"
    )]
    Unknown,
    #[error(
        "{what} sets no KMS key policy{detail}\nhint: it needs `aws_kms_key` (with `policy`) or `aws_kms_key_policy` resources"
    )]
    NoTerraformPolicy { what: &'static str, detail: String },
    #[error(
        "the template has no `AWS::KMS::Key` with a `KeyPolicy`\nhint: `Resources.NAME.Type` must be `AWS::KMS::Key`, with `Properties.KeyPolicy`"
    )]
    NoTemplatePolicy,
    #[error("`{at}` {reason}")]
    Malformed { at: String, reason: String },
    #[error(
        "`{at}` is not known until apply\nhint: Terraform computes it; check the policy after it is known, or give it as a policy file"
    )]
    UnknownUntilApply { at: String },
    #[error(
        "`{at}`: {function} of `{name}` cannot be resolved offline\nhint: give it with --parameter {name}=VALUE"
    )]
    Unresolved {
        at: String,
        function: &'static str,
        name: String,
    },
    #[error(
        "`{at}`: `{function}` cannot be resolved offline\nhint: write the value in the template, or check the policy as a file"
    )]
    Unsupported { at: String, function: String },
    // The parse error is in the message, not a source: `{:#}` would say it twice.
    #[error("`{at}`: {error}")]
    Policy { at: String, error: Box<ParseError> },
    #[error("the policy does not parse: {0}")]
    PlainPolicy(Box<ParseError>),
    #[error(
        "no resource `{wanted}` sets a key policy; it has {have}\nhint: give one of them to --resource"
    )]
    NoSuchResource { wanted: String, have: String },
    #[error(
        "{count} resources set key policies ({have}) and the trail cannot tell which key each is\nhint: choose one with --resource, and its key with --key"
    )]
    Ambiguous { count: usize, have: String },
    #[error(
        "does not say which key {what} is for, and the trail shows calls to {count} keys\nhint: name the key it belongs to with --key"
    )]
    WhichKey { what: String, count: usize },
}

impl ProposalError {
    /// The error about the proposal `path`, as one sentence: "`X` is not
    /// valid JSON: ...", "`X`: `Resources.Key...` ...".
    pub fn in_file(&self, path: &Path) -> anyhow::Error {
        let predicate = matches!(
            self,
            Self::Json(_) | Self::Yaml(_) | Self::Unknown | Self::WhichKey { .. }
        );
        let sep = if predicate { " " } else { ": " };
        anyhow::anyhow!("`{}`{sep}{self}", path.display())
    }
}

/// Reads and recognises a proposal file.
pub fn read(path: &Path) -> anyhow::Result<Proposal> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the proposal `{}`", path.display()))?;
    recognise(path, text).map_err(|e| e.in_file(path))
}

/// Tells the kind from the content and extracts the candidates.
pub fn recognise(path: &Path, text: String) -> Result<Proposal, ProposalError> {
    let json_like = text.trim_start().starts_with(['{', '[']);
    let value: Value = if json_like {
        serde_json::from_str(&text).map_err(|e| ProposalError::Json(e.to_string()))?
    } else {
        cloudformation::yaml_to_json(&text)?
    };
    let obj = value.as_object();
    let has = |k: &str| obj.is_some_and(|o| o.contains_key(k));
    let (kind, candidates, declared) = if has("Statement") {
        let candidate = Candidate {
            resource: None,
            key_ref: None,
            document: value,
            at: "policy".into(),
            creates: false,
        };
        (
            ProposalKind::KeyPolicy,
            vec![candidate],
            Declared::default(),
        )
    } else if has("format_version")
        && (has("planned_values") || has("resource_changes") || has("values"))
    {
        (
            ProposalKind::TerraformPlan,
            terraform::candidates(&value)?,
            Declared::default(),
        )
    } else if has("Resources") {
        let (c, d) = cloudformation::candidates(&value)?;
        (ProposalKind::CloudFormation, c, d)
    } else {
        return Err(ProposalError::Unknown);
    };
    Ok(Proposal {
        path: path.to_owned(),
        kind,
        text,
        candidates,
        declared,
    })
}

/// `--parameter NAME=VALUE` values, and what the key's ARN tells.
pub type Parameters = BTreeMap<String, String>;

impl Candidate {
    /// The policy, with a template's intrinsics resolved from `params`
    /// (the user's, then the template's defaults, then the key ARN's
    /// account, region and partition).
    pub fn policy(
        &self,
        kind: ProposalKind,
        params: &Parameters,
        declared: &Declared,
        key_arn: &str,
    ) -> Result<Policy, ProposalError> {
        let document = match kind {
            ProposalKind::CloudFormation => {
                let mut all = pseudo_parameters(key_arn);
                all.extend(
                    declared
                        .defaults
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                all.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
                cloudformation::resolve(&self.document, &self.at, &all, &declared.lists)?
            }
            _ => self.document.clone(),
        };
        parse_policy_value(&document).map_err(|e| match kind {
            ProposalKind::KeyPolicy => ProposalError::PlainPolicy(Box::new(e)),
            _ => ProposalError::Policy {
                at: self.at.clone(),
                error: Box::new(e),
            },
        })
    }

    /// What a message calls it.
    fn name(&self) -> String {
        self.resource
            .as_ref()
            .map_or_else(|| "the policy".to_owned(), |r| format!("`{r}`"))
    }
}

/// `AWS::AccountId`, `AWS::Region` and `AWS::Partition` as the key's ARN
/// shows them (the key lives in the stack's account and region).
fn pseudo_parameters(key_arn: &str) -> Parameters {
    let mut out = Parameters::new();
    if let Some(arn) = Arn::parse(key_arn) {
        for (name, v) in [
            ("AWS::Partition", arn.partition),
            ("AWS::Region", arn.region),
            ("AWS::AccountId", arn.account),
        ] {
            out.insert(name.to_owned(), v.to_owned());
        }
    }
    out
}

/// The candidates tied to keys: each one checked against a key the trail
/// shows, and the ones whose key the trail never shows.
#[derive(Debug, Default)]
pub struct Selection {
    /// (key ARN, index into `Proposal::candidates`).
    pub checks: Vec<(String, usize)>,
    /// Candidates naming a key the trail shows no call to, or a key the
    /// proposal creates.
    pub unseen: Vec<usize>,
}

/// Ties candidates to the keys the trail shows calls to (`trail_keys`,
/// already narrowed by `--key`): by the key ARN or id the proposal names;
/// a candidate that names none goes to the one key left, if one is.
/// `resource`: `--resource`, to choose one candidate.
pub fn select(
    p: &Proposal,
    trail_keys: &[String],
    resource: Option<&str>,
) -> Result<Selection, ProposalError> {
    let have = || {
        p.candidates
            .iter()
            .filter_map(|c| c.resource.as_deref())
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen: Vec<usize> = match resource {
        Some(r) => {
            let found: Vec<usize> = (0..p.candidates.len())
                .filter(|&i| p.candidates[i].resource.as_deref() == Some(r))
                .collect();
            if found.is_empty() {
                return Err(ProposalError::NoSuchResource {
                    wanted: r.to_owned(),
                    have: have(),
                });
            }
            found
        }
        None => (0..p.candidates.len()).collect(),
    };
    let mut sel = Selection::default();
    let mut loose = Vec::new();
    for i in chosen {
        if p.candidates[i].creates {
            sel.unseen.push(i);
            continue;
        }
        match &p.candidates[i].key_ref {
            Some(r) => match trail_keys.iter().find(|k| names_key(r, k)) {
                Some(k) => sel.checks.push((k.clone(), i)),
                None => sel.unseen.push(i),
            },
            None => loose.push(i),
        }
    }
    let left: Vec<&String> = trail_keys
        .iter()
        .filter(|k| !sel.checks.iter().any(|(c, _)| c == *k))
        .collect();
    match (loose.as_slice(), left.as_slice()) {
        ([], _) | ([_], []) => {}
        ([i], [k]) => sel.checks.push(((*k).clone(), *i)),
        ([i], _) => {
            return Err(ProposalError::WhichKey {
                what: p.candidates[*i].name(),
                count: left.len(),
            });
        }
        (many, _) => {
            return Err(ProposalError::Ambiguous {
                count: many.len(),
                have: have(),
            });
        }
    }
    Ok(sel)
}

/// A key ARN or bare key id names `key_arn`.
fn names_key(r: &str, key_arn: &str) -> bool {
    r == key_arn || key_arn.rsplit_once(":key/").is_some_and(|(_, id)| id == r)
}

/// The 1-based line of statement `sid` of candidate `i` in the proposal's
/// text: the one line of the candidate's block that has `Sid` and the id
/// (JSON, YAML, or a policy embedded as a string). `None` when the block
/// shows it on no line or on several, or when a template or plan is one
/// line (`terraform show -json` writes one): a line there names no
/// statement.
pub fn sid_line(p: &Proposal, i: usize, sid: &str) -> Option<usize> {
    let lines: Vec<&str> = p.text.lines().collect();
    let spans = match (p.kind, p.candidates.get(i)?.resource.as_deref()) {
        (ProposalKind::KeyPolicy, _) | (_, None) => std::iter::once(0..lines.len()).collect(),
        _ if lines.len() <= 1 => return None,
        (ProposalKind::CloudFormation, Some(id)) => {
            template_block(&lines, id).into_iter().collect()
        }
        (ProposalKind::TerraformPlan, Some(address)) => plan_spans(&lines, address),
    };
    // The first span that shows the Sid decides (a plan lists a resource's
    // policy in `planned_values` and in `resource_changes`).
    spans.into_iter().find_map(|span| {
        let mut hits = span.filter(|&j| shows_sid(lines[j], sid));
        let first = hits.next()?;
        Some(hits.next().is_none().then_some(first + 1))
    })?
}

/// `line` has `Sid` and then `sid` quoted, or as a bare YAML value.
fn shows_sid(line: &str, sid: &str) -> bool {
    let Some(at) = line.find("Sid") else {
        return false;
    };
    let rest = &line[at..];
    [
        format!("\"{sid}\""),
        format!("\\\"{sid}\\\""),
        format!("'{sid}'"),
    ]
    .iter()
    .any(|q| rest.contains(q.as_str()))
        || rest.split_once(':').is_some_and(|(_, v)| v.trim() == sid)
}

/// The lines of resource `id` in a template (YAML or indented JSON): from
/// its key under `Resources` to the next line indented no deeper.
fn template_block(lines: &[&str], id: &str) -> Option<std::ops::Range<usize>> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let resources = lines.iter().position(|l| {
        let t = l.trim_start();
        t.starts_with("Resources:") || t.starts_with("\"Resources\"")
    })?;
    let keys = [format!("{id}:"), format!("\"{id}\""), format!("'{id}':")];
    let start = (resources + 1..lines.len()).find(|&j| {
        let t = lines[j].trim_start();
        keys.iter().any(|k| t.starts_with(k.as_str()))
    })?;
    let depth = indent(lines[start]);
    let end = (start + 1..lines.len())
        .find(|&j| !lines[j].trim().is_empty() && indent(lines[j]) <= depth)
        .unwrap_or(lines.len());
    Some(start..end)
}

/// The stretches of an indented plan that describe `address`: from each
/// line naming it as `"address"` to the next line naming any address.
fn plan_spans(lines: &[&str], address: &str) -> Vec<std::ops::Range<usize>> {
    let names = |l: &str| {
        l.trim_start()
            .strip_prefix("\"address\":")
            .map(|v| v.trim().trim_end_matches(',').trim_matches('"').to_owned())
    };
    let mut out = Vec::new();
    for (j, l) in lines.iter().enumerate() {
        if names(l).as_deref() == Some(address) {
            let end = (j + 1..lines.len())
                .find(|&k| names(lines[k]).is_some())
                .unwrap_or(lines.len());
            out.push(j..end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(text: &str) -> Proposal {
        recognise(Path::new("p"), text.to_owned()).unwrap()
    }

    #[test]
    fn sid_lines_in_json_yaml_and_embedded_strings() {
        let json = "{\n  \"Statement\": [\n    {\n      \"Sid\": \"Deny others\",\n \"Effect\": \"Deny\"}]}\n";
        assert_eq!(sid_line(&proposal(json), 0, "Deny others"), Some(4));
        assert!(shows_sid("  - Sid: Deny others", "Deny others"));
        assert!(shows_sid("  - Sid: 'Keep'", "Keep"));
        assert!(shows_sid(
            r#"{"policy": "{\"Sid\":\"Deny others\"}"}"#,
            "Deny others"
        ));
        assert!(
            !shows_sid("  - Sid: Deny others", "Deny"),
            "a prefix is not the id"
        );
    }

    #[test]
    fn sid_lines_within_the_candidates_block() {
        let key = |id: &str, action: &str| {
            format!(
                "  {id}:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy:\n        Statement:\n          - Sid: Deny others\n            Effect: Deny\n            Principal: '*'\n            Action: '{action}'\n            Resource: '*'\n"
            )
        };
        let yaml = format!(
            "Resources:\n{}{}",
            key("OtherKey", "kms:Encrypt"),
            key("VaultKey", "kms:*")
        );
        let p = proposal(&yaml);
        let vault = p
            .candidates
            .iter()
            .position(|c| c.resource.as_deref() == Some("VaultKey"))
            .unwrap();
        assert_eq!(sid_line(&p, vault, "Deny others"), Some(17), "{yaml}");
        assert_eq!(sid_line(&p, 1 - vault, "Deny others"), Some(7));
        // Two statements with one Sid in a block: no line.
        let twice = format!("Resources:\n{}", key("K", "a")).replace(
            "            Resource: '*'\n",
            "            Resource: '*'\n          - Sid: Deny others\n            Effect: Deny\n            Principal: '*'\n            Action: 'b'\n            Resource: '*'\n",
        );
        assert_eq!(
            sid_line(&proposal(&twice), 0, "Deny others"),
            None,
            "{twice}"
        );
    }

    #[test]
    fn a_one_line_plan_gives_no_line() {
        let policy = r#"{\"Statement\": [{\"Sid\": \"S\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"kms:*\", \"Resource\": \"*\"}]}"#;
        let plan = format!(
            r#"{{"format_version": "1.2", "planned_values": {{"root_module": {{"resources": [{{"address": "aws_kms_key.k", "mode": "managed", "type": "aws_kms_key", "values": {{"policy": "{policy}", "key_id": "k1"}}}}]}}}}}}"#
        );
        let p = proposal(&plan);
        assert_eq!(sid_line(&p, 0, "S"), None);
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&plan).unwrap()).unwrap();
        let p = proposal(&pretty);
        let want = pretty
            .lines()
            .position(|l| l.contains("\\\"S\\\""))
            .unwrap()
            + 1;
        assert_eq!(sid_line(&p, 0, "S"), Some(want), "{pretty}");
    }

    #[test]
    fn keys_by_arn_or_id() {
        let k = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd";
        assert!(names_key("1234abcd", k));
        assert!(names_key(k, k));
        assert!(!names_key("1234", k));
    }
}
