//! Local inputs: files, directories (recursively) and `-` for stdin.
//!
//! A directory walk reads files whose names look like logs (`.json`,
//! `.json.gz`, `.jsonl`, `.ndjson`, `.gz`) and skips, counting them, the
//! rest and anything under `CloudTrail-Digest/`, `CloudTrail-Insight/` or
//! `CloudTrail-Aggregated/`. A path named explicitly is always read. Errors
//! (missing path, permission, symlink loop) are reported by path and the
//! walk goes on.

use std::io::Read;
use std::path::Path;

use walkdir::WalkDir;

use crate::collect::Collector;
use crate::source::decode::decode;

/// Path components of CloudTrail deliveries that are not event records.
const NOT_EVENTS: &[&str] = &[
    "CloudTrail-Digest",
    "CloudTrail-Insight",
    "CloudTrail-Aggregated",
];

/// File name endings read during a directory walk.
const LOG_ENDINGS: &[&str] = &[
    ".json",
    ".json.gz",
    ".jsonl",
    ".ndjson",
    ".gz",
    ".jsonl.gz",
    ".ndjson.gz",
];

/// Reads every input path into the collector.
pub fn read_paths(paths: &[String], out: &mut Collector) {
    for p in paths {
        if p == "-" {
            read_stdin(out);
        } else {
            read_path(Path::new(p), out);
        }
    }
}

fn read_stdin(out: &mut Collector) {
    let mut buf = Vec::new();
    match std::io::stdin().lock().read_to_end(&mut buf) {
        Ok(_) => out.add("-", decode(&buf)),
        Err(e) => out.failed("-", format!("reading stdin: {e}")),
    }
}

fn read_path(path: &Path, out: &mut Collector) {
    match std::fs::metadata(path) {
        Err(e) => out.failed(&path.display().to_string(), e.to_string()),
        Ok(m) if m.is_dir() => walk(path, out),
        Ok(_) if is_not_events(path) => out.skipped(),
        Ok(_) => read_file(path, out),
    }
}

fn walk(root: &Path, out: &mut Collector) {
    let walker = WalkDir::new(root).follow_links(true).sort_by_file_name();
    for entry in walker {
        match entry {
            Err(e) => {
                let at = e.path().unwrap_or(root).display().to_string();
                out.failed(&at, walk_error(&e));
            }
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) if is_not_events(e.path()) || !looks_like_log(e.path()) => out.skipped(),
            Ok(e) => read_file(e.path(), out),
        }
    }
}

fn walk_error(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symlink loop back to `{}`", ancestor.display());
    }
    e.io_error()
        .map_or_else(|| e.to_string(), ToString::to_string)
}

fn read_file(path: &Path, out: &mut Collector) {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => out.add(&name, decode(&bytes)),
        Err(e) => out.failed(&name, e.to_string()),
    }
}

fn is_not_events(path: &Path) -> bool {
    path.components()
        .any(|c| NOT_EVENTS.iter().any(|n| c.as_os_str() == *n))
}

fn looks_like_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    LOG_ENDINGS.iter().any(|e| name.ends_with(e))
}
