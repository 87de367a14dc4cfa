//! Condition values that name someone: a user name under `aws:username`,
//! a tag value, an account under `aws:PrincipalAccount`. They have no shape
//! of their own, so the condition key says what they are, in a policy, in
//! an evaluation's trace and in a fix's diff.

use super::{Kind, Redactor, prefixed_id};

/// What the values of condition key `key` name, when they name someone.
/// Condition keys are case-insensitive.
pub(super) fn kind(key: &str) -> Option<Kind> {
    let k = key.to_ascii_lowercase();
    let tag = ["aws:principaltag/", "aws:requesttag/", "aws:resourcetag/"];
    let kind = match k.as_str() {
        "aws:username" => Kind::User,
        "aws:userid" => Kind::UserId,
        "aws:sourcevpc" => Kind::Vpc,
        "aws:sourcevpce" => Kind::Vpce,
        "aws:principalaccount"
        | "aws:sourceaccount"
        | "aws:resourceaccount"
        | "kms:calleraccount" => Kind::Account,
        "aws:principalorgid" | "aws:resourceorgid" | "aws:sourceorgid" => Kind::Org,
        "aws:principalorgpaths" | "aws:resourceorgpaths" | "aws:sourceorgpaths" => Kind::OrgPath,
        "aws:sourceidentity" | "sts:sourceidentity" => Kind::Identity,
        "sts:rolesessionname" => Kind::Session,
        _ if tag.iter().any(|t| k.starts_with(t)) => Kind::Tag,
        _ if k.starts_with("kms:encryptioncontext:") => Kind::Context,
        _ => return None,
    };
    Some(kind)
}

impl Redactor {
    /// A value of a condition key: by its key's kind when it has one
    /// ([`kind`]), else as text. Wildcards, booleans and policy variables
    /// (`${aws:username}`) say nothing of the company and are kept.
    pub(super) fn condition_value(&mut self, key: &str, v: &str) -> String {
        let Some(kind) = kind(key) else {
            return self.text(v);
        };
        if matches!(v, "" | "*" | "true" | "false") || v.contains("${") {
            return v.to_owned();
        }
        if v.starts_with("arn:") {
            return self.text(v);
        }
        match kind {
            Kind::Context => self.context_value(v),
            Kind::UserId => self.user_id(v),
            Kind::OrgPath => v
                .split('/')
                .map(|seg| match seg {
                    "" | "*" => seg.to_owned(),
                    s if prefixed_id(s).is_some() => self.text(s),
                    s => self.name(Kind::Ou, s),
                })
                .collect::<Vec<_>>()
                .join("/"),
            k => self.name(k, v),
        }
    }

    /// `aws:userid`: a unique id (`AIDA...`), an account id (root), or a
    /// role's unique id and a session name (`AROA...:name`).
    fn user_id(&mut self, v: &str) -> String {
        let Some((id, session)) = v.split_once(':') else {
            let t = self.text(v);
            return if t == v {
                self.name(Kind::UserId, v)
            } else {
                t
            };
        };
        let session = if session.contains('*') || session.contains("${") {
            session.to_owned()
        } else {
            self.name(Kind::Session, session)
        };
        format!("{}:{session}", self.text(id))
    }

    /// A fix's diff of two pretty-printed policies: each line as text,
    /// except the values of a condition key that names someone, which the
    /// key (on the same line, or opening the list the line is in) says.
    pub(super) fn fix_diff(&mut self, d: &str) -> String {
        let mut out = String::with_capacity(d.len());
        let mut list_key: Option<String> = None;
        for line in d.split_inclusive('\n') {
            let header = ["---", "+++", "@@"].iter().any(|h| line.starts_with(h));
            let marker = usize::from(line.starts_with([' ', '+', '-']));
            let body = &line[marker..];
            let trimmed = body.trim_start();
            let indent = &body[..body.len() - trimmed.len()];
            let Some((first, after)) = (!header).then(|| json_string(trimmed)).flatten() else {
                if trimmed.starts_with(']') || trimmed.ends_with("{\n") {
                    list_key = None;
                }
                out.push_str(&self.text(line));
                continue;
            };
            let rest = after.trim_start();
            let rewritten = if let Some(value) = rest.strip_prefix(':') {
                let value = value.trim_start();
                list_key = value.starts_with('[').then(|| first.clone());
                match json_string(value) {
                    Some((v, tail)) if kind(&first).is_some() => {
                        let sep = &rest[..rest.len() - value.len()];
                        let new = self.condition_value(&first, &v);
                        Some(format!("{}{sep}{}{tail}", quote(&first), quote(&new)))
                    }
                    _ => None,
                }
            } else {
                match &list_key {
                    Some(k) if kind(k).is_some() => {
                        let new = self.condition_value(&k.clone(), &first);
                        Some(format!("{}{after}", quote(&new)))
                    }
                    _ => None,
                }
            };
            match rewritten {
                Some(r) => {
                    out.push_str(&line[..marker]);
                    out.push_str(indent);
                    out.push_str(&r);
                }
                None => out.push_str(&self.text(line)),
            }
        }
        out
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The JSON string `s` starts with, decoded, and what follows it.
fn json_string(s: &str) -> Option<(String, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => {
                let v = serde_json::from_str(&s[..=i]).ok()?;
                return Some((v, &s[i + 1..]));
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::report::redact::Redactor;
    use crate::report::redact::tests::assert_redacted;

    #[test]
    fn a_diff_names_condition_values_by_their_key() {
        let mut r = Redactor::default();
        let diff = "--- key policy (current)\n+++ key policy (patched)\n@@ -1,9 +1,9 @@\n \
                    \"StringNotEquals\": {\n-  \"aws:username\": [\n-    \"carol.ops\",\n-    \"${aws:username}\"\n-  ],\n \
                    \"aws:PrincipalTag/team\": \"zeta-squad\",\n+  \"aws:PrincipalAccount\": \"123456789012\",\n  \
                    \"aws:PrincipalOrgPaths\": \"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*\",\n \
                    \"Sid\": \"carol.ops-only\"\n";
        let out = r.fix_diff(diff);
        let gone = [
            "carol.ops\"",
            "zeta-squad",
            "123456789012",
            "o-a1b2c3d4e5",
            "ou-ab12",
        ];
        let kept = [
            "-    \"user-1\",\n",
            "-    \"${aws:username}\"\n",
            " \"aws:PrincipalTag/team\": \"tag-1\",\n",
            "+  \"aws:PrincipalAccount\": \"000000000001\",\n",
            "/*\",\n",
            // A Sid is free text: kept (the net over the page may still
            // replace a whole name in it).
            "\"Sid\": \"carol.ops-only\"",
        ];
        assert_redacted(&out, &gone, &kept);
        assert_eq!(out.lines().count(), diff.lines().count());
    }
}
