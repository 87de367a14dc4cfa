//! The unified diff of a policy fix, through `similar` (patience diff): a
//! fix that adds thousands of principals to an exception list diffs
//! documents of thousands of mostly unique lines, where a full LCS table,
//! and Myers' algorithm with that many edits, are quadratic; a deadline
//! bounds what is left.

/// The hunks of a unified diff of `old` and `new` (three lines of
/// context), empty when they are equal. No `---`/`+++` header: what the
/// two sides are called is the report's to say.
pub(crate) fn unified(old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    // Past the deadline similar gives a coarser but still correct diff.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(50);
    similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .deadline(deadline)
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n"), "");
    }

    #[test]
    fn one_inserted_line_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\nnew\n5\n6\n7\n8\n";
        let diff = unified(old, new);
        let expected = "@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n";
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
        let diff = unified(&old, &new);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(diff.contains("-line 2\n+two\n"));
        assert!(diff.contains("-line 19\n+nineteen\n"));
    }
}
