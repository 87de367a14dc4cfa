//! The last net of `--redact`: every original value that already has a
//! pseudonym, replaced wherever the rendered document still shows it as a
//! whole token. Names without a shape (an IAM user's name, a tag value)
//! are only recognised where the analysis says what they are; a renderer
//! or an AWS message quoting one elsewhere is caught here.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use aho_corasick::AhoCorasick;

use super::Kind;

/// Words that a report writes itself (JSON literals, a condition's result):
/// never replaced, whatever a tag or context value says.
const OWN_WORDS: [&str; 3] = ["true", "false", "null"];

/// A lower-case word (`session`, `probe`, `trail`), or one numbered
/// (`cause-1`, `fix-2`, `role-3`): the report's own vocabulary, its ids
/// and its pseudonyms are made of these, and a name like that (a session
/// called `session`) would rewrite them.
fn plain_word(s: &str) -> bool {
    let (word, number) = s.rsplit_once('-').unwrap_or((s, ""));
    word.bytes().all(|c| c.is_ascii_lowercase()) && number.bytes().all(|c| c.is_ascii_digit())
}

/// Original values (in their raw, JSON-escaped and HTML-escaped forms) and
/// their pseudonyms.
#[derive(Debug)]
pub(super) struct Net {
    search: AhoCorasick,
    to: Vec<String>,
    /// How many names the redactor had when this was built.
    pub(super) size: usize,
}

impl Net {
    /// The net over `names` (kind and original value to pseudonym). When
    /// one value has pseudonyms of two kinds, the smallest kind's is used,
    /// so the choice does not depend on a hash map's order.
    pub(super) fn new<'a>(
        names: impl Iterator<Item = (&'a (Kind, String), &'a String)>,
        size: usize,
    ) -> Self {
        let mut chosen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for ((kind, value), p) in names {
            let netted = value.len() >= 3
                && value.bytes().any(|c| c.is_ascii_alphabetic())
                && !kind.shaped()
                && !OWN_WORDS.contains(&value.as_str())
                && !super::is_region(value)
                && !plain_word(value);
            if !netted {
                continue;
            }
            let e = chosen.entry(value).or_insert((kind.label(), p));
            if kind.label() < e.0 {
                *e = (kind.label(), p);
            }
        }
        let mut from: Vec<String> = Vec::new();
        let mut to: Vec<String> = Vec::new();
        for (value, (_, p)) in chosen {
            let json = serde_json::to_string(value).unwrap_or_default();
            let json = json[1..json.len() - 1].to_owned();
            let mut forms = vec![value.to_owned(), html(value), html(&json), json];
            forms.sort();
            forms.dedup();
            for f in forms {
                from.push(f);
                to.push(p.to_owned());
            }
        }
        let search = AhoCorasick::new(&from).expect("plain strings make an automaton");
        Self { search, to, size }
    }

    /// `s` with each whole-token occurrence of an original replaced,
    /// leftmost first and the longest at a position; tag and attribute
    /// names of HTML and Markdown markup are left alone.
    pub(super) fn apply(&self, s: &str) -> String {
        if self.to.is_empty() {
            return s.to_owned();
        }
        let b = s.as_bytes();
        let markup = markup_spans(b);
        let in_markup = |at: usize| {
            let i = markup.partition_point(|&(_, end)| end <= at);
            markup.get(i).is_some_and(|&(start, _)| start <= at)
        };
        let mut found: Vec<(usize, usize, usize)> = self
            .search
            .find_overlapping_iter(s)
            .filter(|m| whole(b, m.start(), m.end()) && !in_markup(m.start()))
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        if found.is_empty() {
            return s.to_owned();
        }
        found.sort_by_key(|&(start, end, _)| (start, Reverse(end)));
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (start, end, p) in found {
            if start < last {
                continue;
            }
            out.push_str(&s[last..start]);
            out.push_str(&self.to[p]);
            last = end;
        }
        out.push_str(&s[last..]);
        out
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// Whether `b[start..end]` is a whole token: not glued to a letter, a
/// digit or a joining character (`-_.@+=:/`) on either side, except for a
/// full stop that ends a sentence.
fn whole(b: &[u8], start: usize, end: usize) -> bool {
    let joins = |c: u8| c.is_ascii_alphanumeric() || b"-_@+=:/".contains(&c);
    let before = start == 0 || !(joins(b[start - 1]) || b[start - 1] == b'.');
    let after = match b.get(end) {
        None => true,
        Some(b'.') => b.get(end + 1).is_none_or(|&c| !(joins(c) || c == b'.')),
        Some(&c) => !joins(c),
    };
    before && after
}

/// The spans of markup outside quoted attribute values: from `<` (before a
/// letter, `/` or `!`) to the next `>` on the same line.
fn markup_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let opens = b[i] == b'<'
            && b.get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!'));
        if !opens {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut start = i;
        let mut quoted = false;
        let mut local = Vec::new();
        while j < b.len() && b[j] != b'\n' && (quoted || b[j] != b'>') {
            if b[j] == b'"' {
                if quoted {
                    start = j;
                } else {
                    local.push((start, j + 1));
                }
                quoted = !quoted;
            }
            j += 1;
        }
        if j < b.len() && b[j] == b'>' {
            local.push((start, j + 1));
            spans.extend(local);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::{Kind, Net};

    #[test]
    fn whole_tokens_only_and_markup_stays() {
        let names = [
            ((Kind::User, "carol.ops".to_owned()), "user-1".to_owned()),
            ((Kind::User, "carol.o".to_owned()), "user-2".to_owned()),
            ((Kind::Tag, "text-anchor".to_owned()), "tag-1".to_owned()),
            ((Kind::Tag, "true".to_owned()), "tag-2".to_owned()),
            (
                (Kind::Session, "session".to_owned()),
                "session-1".to_owned(),
            ),
            ((Kind::Role, "fix-2".to_owned()), "role-1".to_owned()),
            ((Kind::Object, "AWSLogs".to_owned()), "object-1".to_owned()),
        ];
        let net = Net::new(names.iter().map(|(k, v)| (k, v)), names.len());
        let text = "[carol.ops]: seen carol.o. carolina carol.ops.x user/carol.o \
                    <text text-anchor=\"text-anchor\">text-anchor true</text> session fix-2 AWSLogs";
        assert_eq!(
            net.apply(text),
            "[user-1]: seen user-2. carolina carol.ops.x user/carol.o \
             <text text-anchor=\"tag-1\">tag-1 true</text> session fix-2 AWSLogs"
        );
    }
}
