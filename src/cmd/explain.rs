//! `denydiff explain`: read one event, or one request described by hand,
//! and the policies; explain; render. The explanation itself is
//! `analysis::explanation`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::analysis::diagnosis::request::{arn_part, request_for, with_org};
use crate::analysis::explanation::{self, Subject};
use crate::call;
use crate::cli::ExplainArgs;
use crate::event::RawRecord;
use crate::policy::context::role_of_session;
use crate::policy::{Context, Principal, Request};
use crate::source::decode::{Decoded, decode};
use crate::{ExitStatus, report, settings};

pub fn run(a: &ExplainArgs) -> anyhow::Result<ExitStatus> {
    if a.policies.len() > 2 {
        anyhow::bail!("`--policy` may be given at most twice (old, then new)");
    }
    let policies = a
        .policies
        .iter()
        .map(|p| Ok((p.display().to_string(), settings::read_policy(p)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let subject = match (&a.event, &a.request) {
        (_, Some(r)) => load_request(r)?,
        (Some(e), None) => load_event(e, a.org_id.as_deref())?,
        (None, None) => anyhow::bail!("give an EVENT file or `--request FILE`"),
    };
    let x = explanation::explain(&subject, &policies);
    let format = a.format.unwrap_or_else(settings::default_format);
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    report::one_request::render(&x, format, &mut w)?;
    w.flush()?;
    Ok(ExitStatus::Decision(explanation::exit_code(x.decision)))
}

/// Reads an event: a bare record, a `{"Records":[...]}` holding one, a
/// LookupEvents item, or `-` for stdin.
/// `org_id`: the key's account's organization (`--org-id`), if given.
pub fn load_event(path: &str, org_id: Option<&str>) -> anyhow::Result<Subject> {
    let bytes = read(path)?;
    let records = match decode(&bytes).with_context(|| format!("`{path}`"))? {
        Decoded::Records(r) => r.records,
        Decoded::Digest => bail!("`{path}` is a CloudTrail digest file, not an event"),
    };
    let [RawRecord::Record(ev)] = records.as_slice() else {
        bail!(
            "`{path}` holds {} records: give exactly one event",
            records.len()
        );
    };
    if !call::is_kms(ev) {
        let src = ev.event_source.as_deref().unwrap_or("none");
        bail!("`{path}` is not a KMS event (eventSource `{src}`)");
    }
    let call = call::kms_call(ev, &mut call::Interner::default());
    let Some(request) = request_for(&call.caller, &call.key, &call.event_name, Some(&call))
        .map(|r| with_org(r, &call.caller, &call.key, org_id))
    else {
        bail!(
            "`{path}`: the caller ({}) is not identified well enough to build a request\nhint: describe the request with `--request`",
            call.caller.class.as_str()
        );
    };
    Ok(Subject::Event {
        call: Box::new(call),
        request,
    })
}

/// Reads a hand-written request (see README, `denydiff explain`).
pub fn load_request(path: &str) -> anyhow::Result<Subject> {
    let bytes = read(path)?;
    let v: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("`{path}` is not JSON"))?;
    parse_request(&v).with_context(|| format!("`{path}`"))
}

fn read(path: &str) -> anyhow::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)
            .context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(Path::new(path)).with_context(|| format!("reading `{path}`"))
}

fn field<'a>(v: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    match v.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => bail!("`{name}` must be a string, found `{other}`"),
        None => bail!("`{name}` is missing"),
    }
}

/// `{"principal", "action", "resource", "context": {...}}`. A session ARN
/// given as `aws:PrincipalArn` is read as its role's ARN, as AWS fills
/// that key ("AWS global condition context keys", `aws:PrincipalArn`).
pub fn parse_request(v: &Value) -> anyhow::Result<Subject> {
    let principal = principal(field(v, "principal")?)?;
    let action = field(v, "action")?;
    let resource = field(v, "resource")?;
    let mut ctx = Context::new();
    match v.get("context") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, val) in m {
                let mut values = context_values(k, val)?;
                if k.eq_ignore_ascii_case("aws:PrincipalArn") {
                    for v in &mut values {
                        if let Some(role) = role_of_session(v) {
                            *v = role;
                        }
                    }
                }
                ctx = ctx.set(k, values);
            }
        }
        Some(other) => bail!("`context` must be an object, found `{other}`"),
    }
    Ok(Subject::Request(Request::new(
        principal, action, resource, ctx,
    )))
}

fn context_values(key: &str, v: &Value) -> anyhow::Result<Vec<String>> {
    let one = |v: &Value| -> anyhow::Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Null => bail!("`{key}` is `null`\nhint: leave a key out to make it absent"),
            other => bail!("`{key}`: a value must be a string, number or bool, found `{other}`"),
        }
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        single => Ok(vec![one(single)?]),
    }
}

/// An ARN, a 12-digit account id, or a service principal name.
fn principal(p: &str) -> anyhow::Result<Principal> {
    if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
        return Ok(Principal::Service(p.to_owned()));
    }
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Principal::Aws {
            arn: Some(format!("arn:aws:iam::{p}:root")),
            account: Some(p.to_owned()),
        });
    }
    if p.starts_with("arn:") {
        let account = arn_part(p, 4).map(str::to_owned);
        return Ok(Principal::Aws {
            arn: Some(p.to_owned()),
            account,
        });
    }
    bail!("`principal` must be an ARN, a 12-digit account id or a service principal, found `{p}`")
}
