//! Key policies in a CloudFormation template (JSON or YAML;
//! `docs/preflight.md`): each `AWS::KMS::Key`'s `Properties.KeyPolicy`.
//! The template's intrinsic functions are resolved offline where the
//! values are known: `Ref` to a parameter (`--parameter`, else its
//! `Default`) or to `AWS::AccountId`, `AWS::Region`, `AWS::Partition` (the
//! key's ARN), `AWS::NoValue`; `Fn::Sub`, `Fn::Join`, `Fn::Select`,
//! `Fn::Split`; `Fn::GetAtt` and `Fn::ImportValue` from `--parameter`.
//! Anything else is an error naming the place in the template.

use std::collections::BTreeSet;

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value};

use super::{Candidate, Parameters, ProposalError};

/// What the template's `Parameters` section declares.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// Each parameter's `Default`, used when `--parameter` does not give it.
    pub defaults: Parameters,
    /// Parameters of a list type (`CommaDelimitedList`, `List<...>`): a
    /// `Ref` to one is an array, its value split at commas.
    pub lists: BTreeSet<String>,
}

/// Every `AWS::KMS::Key` with a `KeyPolicy`, and the parameters declared.
pub fn candidates(template: &Value) -> Result<(Vec<Candidate>, Declared), ProposalError> {
    let mut out = Vec::new();
    if let Some(resources) = template.get("Resources").and_then(Value::as_object) {
        for (id, r) in resources {
            if r.get("Type").and_then(Value::as_str) != Some("AWS::KMS::Key") {
                continue;
            }
            let at = format!("Resources.{id}.Properties.KeyPolicy");
            let Some(policy) = r.get("Properties").and_then(|p| p.get("KeyPolicy")) else {
                continue;
            };
            // A JSON string is accepted as well as an object.
            let document = match policy {
                Value::String(s) => {
                    serde_json::from_str(s).map_err(|e| ProposalError::Malformed {
                        at: at.clone(),
                        reason: format!("is not valid JSON: {e}"),
                    })?
                }
                other => other.clone(),
            };
            out.push(Candidate {
                resource: Some(id.clone()),
                key_ref: None,
                document,
                at,
                creates: false,
            });
        }
    }
    if out.is_empty() {
        return Err(ProposalError::NoTemplatePolicy);
    }
    let mut declared = Declared::default();
    if let Some(params) = template.get("Parameters").and_then(Value::as_object) {
        for (name, p) in params {
            let kind = p.get("Type").and_then(Value::as_str).unwrap_or_default();
            if is_list_type(kind) {
                declared.lists.insert(name.clone());
            }
            let text = match p.get("Default") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            declared.defaults.insert(name.clone(), text);
        }
    }
    Ok((out, declared))
}

/// A YAML template as JSON, the short-form tags written in full
/// (`!Ref X` as `{"Ref": "X"}`, `!GetAtt A.B` as `{"Fn::GetAtt": ["A", "B"]}`,
/// `!Sub ...` as `{"Fn::Sub": ...}`).
pub fn yaml_to_json(text: &str) -> Result<Value, ProposalError> {
    let docs = Yaml::load_from_str(text).map_err(|e| ProposalError::Yaml(e.to_string()))?;
    let Some(doc) = docs.first() else {
        return Err(ProposalError::Yaml("the file holds no document".into()));
    };
    convert(doc)
}

fn convert(y: &Yaml<'_>) -> Result<Value, ProposalError> {
    Ok(match y {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(text, ..) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match convert(k)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tag, inner) => {
            let inner = convert(inner)?;
            let name = tag.suffix.as_str();
            if tag.handle != "!" {
                // A core-schema tag (`!!str`): the value as it is.
                return Ok(inner);
            }
            let (function, arg) = match (name, inner) {
                ("Ref" | "Condition", v) => (name.to_owned(), v),
                ("GetAtt", Value::String(s)) => {
                    let parts = match s.split_once('.') {
                        Some((r, a)) => vec![Value::from(r), Value::from(a)],
                        None => vec![Value::from(s)],
                    };
                    ("Fn::GetAtt".to_owned(), Value::Array(parts))
                }
                (_, v) => (format!("Fn::{name}"), v),
            };
            let mut out = Map::new();
            out.insert(function, arg);
            Value::Object(out)
        }
        Yaml::Alias(_) => {
            return Err(ProposalError::Yaml(
                "aliases (`*name`) are not supported".into(),
            ));
        }
        Yaml::BadValue => return Err(ProposalError::Yaml("a value does not parse".into())),
    })
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// `document` with its intrinsic functions resolved from `params`
/// (those named in `lists` split at commas into arrays); `at` names where
/// it sits, for errors.
pub fn resolve(
    document: &Value,
    at: &str,
    params: &Parameters,
    lists: &BTreeSet<String>,
) -> Result<Value, ProposalError> {
    Ok(Resolver { params, lists }
        .value(document, at)?
        .unwrap_or(Value::Null))
}

struct Resolver<'p> {
    params: &'p Parameters,
    lists: &'p BTreeSet<String>,
}

impl Resolver<'_> {
    /// `None` for `AWS::NoValue`: the property or item is left out.
    fn value(&self, v: &Value, at: &str) -> Result<Option<Value>, ProposalError> {
        match v {
            Value::Object(m) => {
                if m.len() == 1
                    && let Some((k, arg)) = m.iter().next()
                    && (k == "Ref" || k.starts_with("Fn::"))
                {
                    return self.intrinsic(k, arg, &format!("{at}.{k}"));
                }
                let mut out = Map::new();
                for (k, v) in m {
                    if let Some(v) = self.value(v, &format!("{at}.{k}"))? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    if let Some(v) = self.value(v, &format!("{at}[{i}]"))? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn param(&self, name: &str, function: &'static str, at: &str) -> Result<Value, ProposalError> {
        self.params
            .get(name)
            .map(|v| {
                // CloudFormation trims each member of a list parameter.
                if self.lists.contains(name) {
                    Value::Array(v.split(',').map(|m| Value::from(m.trim())).collect())
                } else {
                    Value::String(v.clone())
                }
            })
            .ok_or_else(|| ProposalError::Unresolved {
                at: at.to_owned(),
                function,
                name: name.to_owned(),
            })
    }

    fn intrinsic(&self, f: &str, arg: &Value, at: &str) -> Result<Option<Value>, ProposalError> {
        let arg = self.value(arg, at)?.unwrap_or(Value::Null);
        let out = match f {
            "Ref" => {
                let name = string(arg, at, "a name")?;
                if name == "AWS::NoValue" {
                    return Ok(None);
                }
                self.param(&name, "`Ref`", at)?
            }
            "Fn::Sub" => self.sub_function(arg, at)?,
            "Fn::Join" => join(arg, at)?,
            "Fn::Select" => select(arg, at)?,
            "Fn::Split" => split(arg, at)?,
            "Fn::GetAtt" => {
                let name = match arg {
                    Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("."),
                    Value::String(s) => s,
                    _ => return Err(malformed(at, "`[RESOURCE, ATTRIBUTE]`")),
                };
                self.param(&name, "`Fn::GetAtt`", at)?
            }
            "Fn::ImportValue" => {
                let name = string(arg, at, "an export name")?;
                self.param(&name, "`Fn::ImportValue`", at)?
            }
            other => {
                return Err(ProposalError::Unsupported {
                    at: at.to_owned(),
                    function: other.to_owned(),
                });
            }
        };
        Ok(Some(out))
    }

    /// `Fn::Sub`: a string, or `[STRING, {NAME: VALUE}]`.
    fn sub_function(&self, arg: Value, at: &str) -> Result<Value, ProposalError> {
        const FORM: &str = "`[STRING, {NAME: VALUE}]`";
        let (text, vars) = match arg {
            Value::String(s) => (s, Map::new()),
            Value::Array(mut items) if items.len() == 2 => {
                let Some(Value::Object(vars)) = items.pop() else {
                    return Err(malformed(at, FORM));
                };
                (string(items.remove(0), at, FORM)?, vars)
            }
            _ => return Err(malformed(at, "a string or `[STRING, {NAME: VALUE}]`")),
        };
        Ok(Value::String(self.sub(&text, &vars, at)?))
    }

    /// `${Name}` from `vars`, else the parameters; `${!Literal}` as `${Literal}`.
    fn sub(
        &self,
        text: &str,
        vars: &Map<String, Value>,
        at: &str,
    ) -> Result<String, ProposalError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = after[..end].trim();
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                match v {
                    Value::String(s) => out.push_str(s),
                    other => out.push_str(&other.to_string()),
                }
            } else {
                match self.param(name, "`Fn::Sub`", at)? {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn malformed(at: &str, what: &str) -> ProposalError {
    ProposalError::Malformed {
        at: at.to_owned(),
        reason: format!("must be {what}"),
    }
}

/// A string argument (a number reads as its text).
fn string(v: Value, at: &str, what: &str) -> Result<String, ProposalError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(malformed(at, what)),
    }
}

/// `Fn::Join`: `[DELIMITER, [VALUES]]`.
fn join(arg: Value, at: &str) -> Result<Value, ProposalError> {
    const FORM: &str = "`[DELIMITER, [VALUES]]`";
    let Value::Array(mut items) = arg else {
        return Err(malformed(at, FORM));
    };
    let (Some(Value::Array(list)), Some(Value::String(delim))) = (items.pop(), items.pop()) else {
        return Err(malformed(at, FORM));
    };
    let parts = list
        .into_iter()
        .map(|v| string(v, at, "a list of strings to join"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(&delim)))
}

/// `Fn::Select`: `[INDEX, [VALUES]]`.
fn select(arg: Value, at: &str) -> Result<Value, ProposalError> {
    const FORM: &str = "`[INDEX, [VALUES]]`";
    let Value::Array(items) = arg else {
        return Err(malformed(at, FORM));
    };
    let index = match items.first() {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let Some(Value::Array(list)) = items.get(1) else {
        return Err(malformed(at, FORM));
    };
    index
        .and_then(|i| list.get(usize::try_from(i).ok()?))
        .cloned()
        .ok_or_else(|| malformed(at, "an index within the list"))
}

/// `Fn::Split`: `[DELIMITER, STRING]`.
fn split(arg: Value, at: &str) -> Result<Value, ProposalError> {
    const FORM: &str = "`[DELIMITER, STRING]`";
    let Value::Array(items) = arg else {
        return Err(malformed(at, FORM));
    };
    let (Some(Value::String(delim)), Some(Value::String(s))) = (items.first(), items.get(1)) else {
        return Err(malformed(at, FORM));
    };
    Ok(Value::Array(
        s.split(delim.as_str()).map(Value::from).collect(),
    ))
}

/// Whether a parameter `Type` is a list: `CommaDelimitedList`, `List<...>`,
/// and the SSM parameter types that hold one
/// (`AWS::SSM::Parameter::Value<List<String>>`,
/// `AWS::SSM::Parameter::Value<CommaDelimitedList>`).
fn is_list_type(kind: &str) -> bool {
    let inner = kind
        .strip_prefix("AWS::SSM::Parameter::Value<")
        .and_then(|k| k.strip_suffix('>'))
        .unwrap_or(kind);
    inner == "CommaDelimitedList" || inner.starts_with("List<")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ssm_list_parameters_are_lists() {
        use super::is_list_type;
        for t in [
            "CommaDelimitedList",
            "List<Number>",
            "List<AWS::EC2::VPC::Id>",
            "AWS::SSM::Parameter::Value<List<String>>",
            "AWS::SSM::Parameter::Value<CommaDelimitedList>",
        ] {
            assert!(is_list_type(t), "{t}");
        }
        for t in [
            "String",
            "AWS::SSM::Parameter::Value<String>",
            "AWS::SSM::Parameter::Name",
        ] {
            assert!(!is_list_type(t), "{t}");
        }
    }

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Parameters {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn short_form_tags_become_intrinsics() {
        let y = yaml_to_json(
            "a: !Ref X\nb: !GetAtt Role.Arn\nc: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'\nd: !Join ['', [x, !Ref Y]]\n",
        )
        .unwrap();
        assert_eq!(y["a"], serde_json::json!({"Ref": "X"}));
        assert_eq!(y["b"], serde_json::json!({"Fn::GetAtt": ["Role", "Arn"]}));
        assert!(y["c"]["Fn::Sub"].is_string());
        assert_eq!(y["d"]["Fn::Join"][1][1], serde_json::json!({"Ref": "Y"}));
    }

    #[test]
    fn resolves_what_is_known_and_names_what_is_not() {
        let doc = serde_json::json!({
            "a": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}-${!Literal}"},
            "b": {"Fn::Join": [":", ["x", {"Ref": "Name"}]]},
            "c": [{"Ref": "AWS::NoValue"}, "kept"],
            "d": {"Fn::Select": [1, {"Fn::Split": [",", "p,q"]}]},
        });
        let p = params(&[
            ("AWS::Partition", "aws"),
            ("AWS::AccountId", "111122223333"),
            ("Name", "app"),
        ]);
        let r = resolve(
            &doc,
            "Resources.K.Properties.KeyPolicy",
            &p,
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(r["a"], "arn:aws:iam::111122223333:role/app-${Literal}");
        assert_eq!(r["b"], "x:app");
        assert_eq!(r["c"], serde_json::json!(["kept"]));
        assert_eq!(r["d"], "q");
        let e = resolve(
            &doc,
            "Resources.K.Properties.KeyPolicy",
            &params(&[]),
            &BTreeSet::new(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            ProposalError::Unresolved {
                at: "Resources.K.Properties.KeyPolicy.a.Fn::Sub".into(),
                function: "`Fn::Sub`",
                name: "AWS::Partition".into(),
            }
        );
        let iff = serde_json::json!({"x": [{"Fn::If": ["C", "a", "b"]}]});
        assert!(matches!(
            resolve(&iff, "P", &p, &BTreeSet::new()),
            Err(ProposalError::Unsupported { at, .. }) if at == "P.x[0].Fn::If"
        ));
    }

    #[test]
    fn list_parameters_resolve_to_arrays() {
        let doc = serde_json::json!({"a": {"Ref": "Exempt"}, "b": {"Ref": "Name"}});
        let p = params(&[("Exempt", "x, y"), ("Name", "p,q")]);
        let lists = BTreeSet::from(["Exempt".to_owned()]);
        let r = resolve(&doc, "P", &p, &lists).unwrap();
        assert_eq!(r["a"], serde_json::json!(["x", "y"]));
        assert_eq!(r["b"], "p,q", "a String parameter stays one string");
    }
}
