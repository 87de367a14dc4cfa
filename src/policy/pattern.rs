//! Wildcard patterns and policy-variable expansion for the evaluator.
//!
//! A policy string becomes a list of [`Tok`]: literal characters, `*` (any
//! run) and `?` (any one character). Variables (`${aws:username}`,
//! `${aws:PrincipalTag/team, 'none'}`) are replaced from the request context
//! and their text is always literal; `${*}`, `${?}` and `${$}` stand for the
//! literal characters ("IAM policy elements: Variables and tags", "Special
//! characters" and "Specifying default values"). This module only matches
//! text; which operator wants wildcards is decided in `cond`.

use super::context::{Context, Seen};

/// One element of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    Star,
    Question,
}

/// The result of expanding variables in a policy string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expanded {
    Tokens(Vec<Tok>),
    /// A variable's key is absent (or multivalued) and there is no default.
    Missing,
    /// A variable's key is unknown in this context.
    Unknown,
}

/// Tokens of a string with no variable expansion.
pub(crate) fn literal(text: &str) -> Vec<Tok> {
    text.chars().map(tok).collect()
}

fn tok(c: char) -> Tok {
    match c {
        '*' => Tok::Star,
        '?' => Tok::Question,
        c => Tok::Lit(c),
    }
}

/// Expand `${...}` variables when `variables` is set (policy version
/// `2012-10-17`); an unterminated `${` stays literal text.
pub(crate) fn expand(text: &str, ctx: &Context, variables: bool) -> Expanded {
    if !variables {
        return Expanded::Tokens(literal(text));
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.extend(literal(&rest[..start]));
        let inner = &rest[start + 2..];
        let Some(end) = closing_brace(inner) else {
            out.extend(literal(&rest[start..]));
            return Expanded::Tokens(out);
        };
        match variable(&inner[..end], ctx) {
            Expanded::Tokens(toks) => out.extend(toks),
            other => return other,
        }
        rest = &inner[end + 1..];
    }
    out.extend(literal(rest));
    Expanded::Tokens(out)
}

/// The first `}` outside a quoted default value.
fn closing_brace(inner: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn variable(inner: &str, ctx: &Context) -> Expanded {
    let inner = inner.trim();
    if let Some(c @ ('*' | '?' | '$')) = single_char(inner) {
        return Expanded::Tokens(vec![Tok::Lit(c)]);
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => match quoted_default(default) {
            Some(default) => (key.trim(), Some(default)),
            None => return Expanded::Missing,
        },
        None => (inner, None),
    };
    let lit = |s: &str| Expanded::Tokens(s.chars().map(Tok::Lit).collect());
    match ctx.get(key) {
        Seen::Present(values) if values.len() == 1 => lit(&values[0]),
        Seen::Unknown => Expanded::Unknown,
        Seen::Present(_) | Seen::Absent => default.as_deref().map_or(Expanded::Missing, lit),
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// `'text'` with `''` standing for one quote.
fn quoted_default(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let body = raw.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(body.replace("''", "'"))
}

/// The pattern as plain text, wildcards written as `*` and `?`.
pub(crate) fn render(toks: &[Tok]) -> String {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            Tok::Star => '*',
            Tok::Question => '?',
        })
        .collect()
}

/// Whether `text` matches the pattern as a whole.
pub(crate) fn glob(pattern: &[Tok], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| a == b || (ignore_case && a.to_lowercase().eq(b.to_lowercase()));
    let (mut p, mut i) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while i < text.len() {
        match pattern.get(p) {
            Some(Tok::Question) => (p, i) = (p + 1, i + 1),
            Some(Tok::Lit(c)) if same(*c, text[i]) => (p, i) = (p + 1, i + 1),
            Some(Tok::Star) => {
                backtrack = Some((p, i));
                p += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    backtrack = Some((star, from + 1));
                    (p, i) = (star + 1, from + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        glob(&literal(pattern), text, false)
    }

    #[test]
    fn glob_wildcards() {
        assert!(matches("kms:Generate*", "kms:GenerateDataKey"));
        assert!(matches("*", ""));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*:key/*", "arn:aws:kms:eu-west-1:1:key/abc"));
        assert!(!matches("kms:Decrypt", "kms:DecryptX"));
        assert!(matches("a*b*c", "aXXbYYbc"));
        assert!(!matches("KMS:decrypt", "kms:Decrypt"));
        assert!(glob(&literal("KMS:decrypt"), "kms:Decrypt", true));
    }

    #[test]
    fn variables_expand_from_context() {
        let ctx = Context::new().set("aws:username", ["alice"]);
        let Expanded::Tokens(toks) = expand("home/${aws:username}/*", &ctx, true) else {
            panic!("expected tokens");
        };
        assert!(glob(&toks, "home/alice/x", false));
        assert!(!glob(&toks, "home/bob/x", false));
        assert_eq!(render(&toks), "home/alice/*");
    }

    #[test]
    fn special_and_default_variables() {
        let ctx = Context::new().set_unknown("aws:PrincipalTag/team");
        let toks = |s| match expand(s, &Context::new(), true) {
            Expanded::Tokens(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            toks("a${*}b"),
            vec![Tok::Lit('a'), Tok::Lit('*'), Tok::Lit('b')]
        );
        assert_eq!(render(&toks("${$}${?}")), "$?");
        assert_eq!(render(&toks("${aws:userid, 'it''s'}")), "it's");
        assert_eq!(
            expand("${aws:userid}", &Context::new(), true),
            Expanded::Missing
        );
        assert_eq!(
            expand("${aws:PrincipalTag/team, 'x'}", &ctx, true),
            Expanded::Unknown
        );
        assert_eq!(render(&toks("${unterminated")), "${unterminated");
        let old = expand("${aws:userid}", &Context::new(), false);
        assert_eq!(old, Expanded::Tokens(literal("${aws:userid}")));
    }
}
