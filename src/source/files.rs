//! Local inputs: files, directories (recursively) and `-` for stdin.
//! Reduced tables (Parquet, CSV) are read by `source::table_file`.
//!
//! A directory walk reads files whose names look like logs (`.json`,
//! `.json.gz`, `.jsonl`, `.ndjson`, `.gz`) and skips, counting them, the
//! rest and anything under `CloudTrail-Digest/`, `CloudTrail-Insight/` or
//! `CloudTrail-Aggregated/`. A path named explicitly is always read. Errors
//! (missing path, permission, symlink loop) are reported by path and the
//! walk goes on.
//!
//! Files are read, inflated and parsed in parallel (rayon), a chunk at a
//! time, and handed to the collector in input order while the next chunk is
//! decoded, so the result is the same whatever the number of threads and
//! memory holds two chunks of decoded files at most.

use std::cell::RefCell;
use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use walkdir::WalkDir;

use crate::collect::Collector;
use crate::source::decode::decode;
use crate::source::fast::{self, Fast};
use crate::source::table_file::{self, Table};

/// Path components of CloudTrail deliveries that are not event records.
const NOT_EVENTS: &[&str] = &[
    "CloudTrail-Digest",
    "CloudTrail-Insight",
    "CloudTrail-Aggregated",
];

/// File name endings read during a directory walk.
/// (`.gz` takes in `.json.gz`, `.jsonl.gz` and `.ndjson.gz`; `.parquet` and
/// `.csv` are reduced tables, `source::table_file`, and a walk skips a
/// `.csv` that is not one.)
const LOG_ENDINGS: &[&str] = &[".json", ".jsonl", ".ndjson", ".gz", ".parquet", ".csv"];

/// Files decoded in parallel before they are handed on, in order (while the
/// next chunk is decoded).
const CHUNK: usize = 64;

/// One input, found and not yet read.
enum Entry {
    Stdin,
    File(PathBuf, Found),
    Skipped,
    Failed(String, String),
}

/// How a file was found: named, it is read whatever it holds; found by a
/// walk, a `.csv` that is not a reduced table is skipped (a directory may
/// hold other CSV files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Named,
    Walked,
}

/// One input, read.
enum Done {
    File(String, Fast),
    /// A reduced table, or why it is not one.
    Table(String, Result<Table, String>),
    Entry(Entry),
}

/// Reads every input path into the collector, on `threads` threads (0: all
/// cores); with `strict`, stops after the first input that fails. With
/// `progress`, a bar on stderr (when it is a terminal) counts the files.
pub fn read_paths(
    paths: &[String],
    out: &mut Collector,
    threads: usize,
    strict: bool,
    progress: bool,
) {
    let entries = entries(paths);
    let bar = progress_bar(progress, entries.len());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
    let run = |out: &mut Collector| {
        let mut ready: Vec<Done> = Vec::new();
        for chunk in entries.chunks(CHUNK).map(Some).chain([None]) {
            // The next chunk is decoded while the one before is handed on.
            let (next, stopped) = rayon::join(
                || chunk.map(|c| c.par_iter().map(read).collect::<Vec<_>>()),
                || hand_on_all(std::mem::take(&mut ready), out, strict, &bar),
            );
            if stopped {
                return;
            }
            ready = next.unwrap_or_default();
        }
    };
    match pool {
        Ok(pool) => pool.install(|| run(out)),
        Err(_) => run(out),
    }
    bar.finish_and_clear();
}

/// Files handed on out of all found, with the time left; hidden unless
/// asked for and stderr is a terminal.
fn progress_bar(show: bool, files: usize) -> ProgressBar {
    if !show || files < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template("{bar:25} {pos}/{len} files [{elapsed_precise}, eta {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(files as u64).with_style(style)
}

/// Hands decoded inputs on in order; true if `strict` stopped it.
fn hand_on_all(done: Vec<Done>, out: &mut Collector, strict: bool, bar: &ProgressBar) -> bool {
    for d in done {
        bar.inc(1);
        hand_on(d, out);
        if strict && out.has_failed() {
            return true;
        }
    }
    false
}

fn hand_on(d: Done, out: &mut Collector) {
    match d {
        Done::File(name, Fast::Items(items)) => out.add_items(&name, items),
        Done::File(name, Fast::General(result)) => out.add(&name, result),
        Done::Table(name, Ok(table)) => table_file::hand_on(&name, &table, out),
        Done::Table(name, Err(why)) => out.failed(&name, why),
        Done::Entry(Entry::Stdin) => read_stdin(out),
        Done::Entry(Entry::Skipped) => out.skipped(),
        Done::Entry(Entry::Failed(at, why)) => out.failed(&at, why),
        Done::Entry(Entry::File(..)) => unreachable!("files are read"),
    }
}

thread_local! {
    /// Each thread reads its files into one buffer, reused.
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Read buffers larger than this are not kept for the next file.
const KEEP: usize = 16 << 20;

fn read(e: &Entry) -> Done {
    match e {
        Entry::File(path, found) => {
            let name = path_name(path);
            let read = READ_BUF.with(|cell| {
                let mut buf = cell.borrow_mut();
                buf.clear();
                // Through `Take`: `File::read_to_end` asks the size first
                // (statx and lseek), two system calls too many per small file.
                let read = File::open(path).and_then(|f| f.take(u64::MAX).read_to_end(&mut buf));
                let done = match read {
                    Ok(_) if *found == Found::Walked && table_file::is_other_csv(&name, &buf) => {
                        Ok(Done::Entry(Entry::Skipped))
                    }
                    Ok(_) => match table_file::table_format_of(&name, &buf) {
                        // Read after the buffer is let go: polars works on
                        // this pool, which may start another file's read on
                        // this thread meanwhile.
                        Some(format) => Err((format, std::mem::take(&mut *buf))),
                        None => Ok(Done::File(name.clone(), fast::decode(&buf))),
                    },
                    Err(err) => Ok(Done::Entry(Entry::Failed(name.clone(), err.to_string()))),
                };
                if buf.capacity() > KEEP {
                    *buf = Vec::new();
                }
                done
            });
            read.unwrap_or_else(|(format, bytes)| {
                Done::Table(name, table_file::read(&bytes, format))
            })
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
            Ok(_) => out.push(Entry::File(path.to_owned(), Found::Named)),
        }
    }
    out
}

/// A directory's files, in the byte order of their paths (sorting the
/// whole list once is cheaper than walkdir's sort by name in each
/// directory, which splits paths at every comparison).
fn walk(root: &Path, out: &mut Vec<Entry>) {
    // (path, None) for a log file, else what to record in its place.
    let mut found: Vec<(PathBuf, Option<Entry>)> = Vec::new();
    // Whether a file is under a digest (or Insight, ...) directory is known
    // from the directories the walk has entered, not from splitting each
    // file's path (2-3% of a 91,000-file walk): the root's own path once,
    // then the depth of the digest directory being walked, if any.
    let root_not_events = is_not_events(root);
    let mut not_events_at: Option<usize> = None;
    for entry in WalkDir::new(root).follow_links(true) {
        let depth = entry
            .as_ref()
            .map_or_else(walkdir::Error::depth, walkdir::DirEntry::depth);
        if not_events_at.is_some_and(|d| depth <= d) {
            not_events_at = None;
        }
        match entry {
            Err(e) => {
                let at = e.path().unwrap_or(root).to_owned();
                let failed = Entry::Failed(at.display().to_string(), walk_error(&e));
                found.push((at, Some(failed)));
            }
            Ok(e) if e.file_type().is_dir() => {
                if not_events_at.is_none() && is_not_events_name(e.file_name()) {
                    not_events_at = Some(e.depth());
                }
            }
            Ok(e) if root_not_events || not_events_at.is_some() || !looks_like_log(e.path()) => {
                found.push((e.into_path(), Some(Entry::Skipped)));
            }
            Ok(e) => found.push((e.into_path(), None)),
        }
    }
    found.sort_by(|(a, _), (b, _)| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    out.extend(
        found
            .into_iter()
            .map(|(path, other)| other.unwrap_or(Entry::File(path, Found::Walked))),
    );
}

/// A path as text for reports (`Display` goes through the formatter's lossy
/// UTF-8 chunks, slow per file when there are 100,000 of them).
fn path_name(path: &Path) -> String {
    path.to_str()
        .map_or_else(|| path.display().to_string(), str::to_owned)
}

fn walk_error(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symlink loop back to `{}`", ancestor.display());
    }
    e.io_error()
        .map_or_else(|| e.to_string(), ToString::to_string)
}

fn is_not_events(path: &Path) -> bool {
    path.components().any(|c| is_not_events_name(c.as_os_str()))
}

fn is_not_events_name(name: &std::ffi::OsStr) -> bool {
    NOT_EVENTS.iter().any(|n| name == *n)
}

fn looks_like_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    LOG_ENDINGS.iter().any(|e| name.ends_with(e))
}
