//! A small line-based unified diff for showing a policy fix.
//!
//! Policies are at most 32 KB, so a plain longest-common-subsequence table is
//! fast enough and spares a dependency. Output follows the unified format
//! (`---`/`+++` headers, `@@ -a,b +c,d @@` hunks, three lines of context).
//! It does not diff anything but text.

use std::fmt::Write as _;

const CONTEXT: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A unified diff of `old` and `new`, empty when they are equal.
pub(crate) fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let lines = edit_script(&a, &b);
    if lines.iter().all(|l| matches!(l, Line::Same(_))) {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for (start, end) in hunks(&lines) {
        write_hunk(&mut out, &lines, start, end);
    }
    out
}

fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Line<'a>> {
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(Line::Same(a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out
}

/// Ranges of the script to print: changes plus context, merged when close.
fn hunks(lines: &[Line<'_>]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, _) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
    {
        let (start, end) = (
            i.saturating_sub(CONTEXT),
            (i + CONTEXT + 1).min(lines.len()),
        );
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => out.push((start, end)),
        }
    }
    out
}

fn write_hunk(out: &mut String, lines: &[Line<'_>], start: usize, end: usize) {
    let before = |l: &Line<'_>| !matches!(l, Line::Added(_));
    let after = |l: &Line<'_>| !matches!(l, Line::Removed(_));
    let old_start = lines[..start].iter().filter(|l| before(l)).count() + 1;
    let new_start = lines[..start].iter().filter(|l| after(l)).count() + 1;
    let old_len = lines[start..end].iter().filter(|l| before(l)).count();
    let new_len = lines[start..end].iter().filter(|l| after(l)).count();
    let _ = writeln!(out, "@@ -{old_start},{old_len} +{new_start},{new_len} @@");
    for line in &lines[start..end] {
        let _ = match line {
            Line::Same(s) => writeln!(out, " {s}"),
            Line::Removed(s) => writeln!(out, "-{s}"),
            Line::Added(s) => writeln!(out, "+{s}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn one_inserted_line_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\nnew\n5\n6\n7\n8\n";
        let diff = unified(old, new, "before", "after");
        let expected = "--- before\n+++ after\n@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n";
        assert_eq!(diff, expected);
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let old = (1..=20)
            .map(|i| format!("line {i}\n"))
            .collect::<Vec<_>>()
            .concat();
        let new = old
            .replace("line 2\n", "two\n")
            .replace("line 19\n", "nineteen\n");
        let diff = unified(&old, &new, "a", "b");
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("-line 2\n+two\n"));
        assert!(diff.contains("-line 19\n+nineteen\n"));
    }
}
