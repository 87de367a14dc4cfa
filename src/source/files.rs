//! Local inputs: files, directories (recursively) and `-` for stdin.
//!
//! A directory walk reads files whose names look like logs (`.json`,
//! `.json.gz`, `.jsonl`, `.ndjson`, `.gz`) and skips, counting them, the
//! rest and anything under `CloudTrail-Digest/`, `CloudTrail-Insight/` or
//! `CloudTrail-Aggregated/`. A path named explicitly is always read. Errors
//! (missing path, permission, symlink loop) are reported by path and the
//! walk goes on.
//!
//! Files are read, inflated and parsed in parallel (rayon), a chunk at a
//! time, and handed to the collector in input order, so the result is the
//! same whatever the number of threads and memory holds one chunk of
//! decoded files at most.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::collect::Collector;
use crate::source::decode::decode;
use crate::source::fast::{self, Fast};

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

/// Files decoded in parallel before they are handed on, in order.
const CHUNK: usize = 64;

/// One input, found and not yet read.
enum Entry {
    Stdin,
    File(PathBuf),
    Skipped,
    Failed(String, String),
}

/// One input, read.
enum Done {
    File(String, Fast),
    Entry(Entry),
}

/// Reads every input path into the collector, on `threads` threads (0: all
/// cores); with `strict`, stops after the first input that fails.
pub fn read_paths(paths: &[String], out: &mut Collector, threads: usize, strict: bool) {
    let entries = entries(paths);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
    let run = |out: &mut Collector| {
        for chunk in entries.chunks(CHUNK) {
            let done: Vec<Done> = chunk.par_iter().map(read).collect();
            for d in done {
                hand_on(d, out);
                if strict && out.has_failed() {
                    return;
                }
            }
        }
    };
    match pool {
        Ok(pool) => pool.install(|| run(out)),
        Err(_) => run(out),
    }
}

fn hand_on(d: Done, out: &mut Collector) {
    match d {
        Done::File(name, Fast::Items(items)) => out.add_items(&name, items),
        Done::File(name, Fast::General(result)) => out.add(&name, result),
        Done::Entry(Entry::Stdin) => read_stdin(out),
        Done::Entry(Entry::Skipped) => out.skipped(),
        Done::Entry(Entry::Failed(at, why)) => out.failed(&at, why),
        Done::Entry(Entry::File(_)) => unreachable!("files are read"),
    }
}

fn read(e: &Entry) -> Done {
    match e {
        Entry::File(path) => {
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(bytes) => Done::File(name, fast::decode(&bytes)),
                Err(err) => Done::Entry(Entry::Failed(name, err.to_string())),
            }
        }
        Entry::Stdin => Done::Entry(Entry::Stdin),
        Entry::Skipped => Done::Entry(Entry::Skipped),
        Entry::Failed(a, b) => Done::Entry(Entry::Failed(a.clone(), b.clone())),
    }
}

fn read_stdin(out: &mut Collector) {
    let mut buf = Vec::new();
    match std::io::stdin().lock().read_to_end(&mut buf) {
        Ok(_) => out.add("-", decode(&buf)),
        Err(e) => out.failed("-", format!("reading stdin: {e}")),
    }
}

/// Every input, in order: files named, then each directory's files by name.
fn entries(paths: &[String]) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(Entry::Stdin);
            continue;
        }
        let path = Path::new(p);
        match std::fs::metadata(path) {
            Err(e) => out.push(Entry::Failed(path.display().to_string(), e.to_string())),
            Ok(m) if m.is_dir() => walk(path, &mut out),
            Ok(_) if is_not_events(path) => out.push(Entry::Skipped),
            Ok(_) => out.push(Entry::File(path.to_owned())),
        }
    }
    out
}

fn walk(root: &Path, out: &mut Vec<Entry>) {
    let walker = WalkDir::new(root).follow_links(true).sort_by_file_name();
    for entry in walker {
        match entry {
            Err(e) => {
                let at = e.path().unwrap_or(root).display().to_string();
                out.push(Entry::Failed(at, walk_error(&e)));
            }
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) if is_not_events(e.path()) || !looks_like_log(e.path()) => {
                out.push(Entry::Skipped);
            }
            Ok(e) => out.push(Entry::File(e.into_path())),
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

fn is_not_events(path: &Path) -> bool {
    path.components()
        .any(|c| NOT_EVENTS.iter().any(|n| c.as_os_str() == *n))
}

fn looks_like_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    LOG_ENDINGS.iter().any(|e| name.ends_with(e))
}
