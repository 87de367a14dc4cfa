//! `denydiff fetch`: remote events into a gzipped NDJSON file that `analyze`
//! reads like any other, so an analysis can be re-run offline.
//!
//! Each S3 object or LookupEvents page is appended as its own gzip member
//! (the decoder reads multi-member gzip), then the progress is recorded in
//! `<FILE>.state.json`: the S3 objects done, and per region and lookup the
//! `NextToken` to continue from. `--resume` skips what the state says is
//! done; an item written just before an interruption may be fetched again,
//! and `analyze` drops the duplicates on `eventID`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::ExitStatus;
use crate::settings::FetchSettings;
use crate::source::items::lines;
use crate::source::remote::{self, Item, Payload, Resume};

/// What a fetch did, for its closing line.
#[derive(Debug, Default)]
struct Tally {
    items: u64,
    records: u64,
    skipped: u64,
    failed: u64,
}

/// Runs `fetch`.
pub fn run(s: &FetchSettings) -> anyhow::Result<ExitStatus> {
    let state_path = state_path(&s.output);
    let mut query = s.query.clone();
    if s.resume {
        query.resume = read_state(&state_path)?;
    } else {
        // A fresh fetch replaces the file and forgets an earlier run's
        // state: kept, it would make a later `--resume` skip items this
        // file never received.
        for path in [&s.output, &state_path] {
            if path.exists() {
                std::fs::remove_file(path)
                    .with_context(|| format!("replacing `{}`", path.display()))?;
            }
        }
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.output)
        .with_context(|| format!("opening `{}`", s.output.display()))?;
    let mut state = query.resume.clone();
    let mut tally = Tally::default();
    let mut io_error: Option<anyhow::Error> = None;
    remote::fetch(&s.remotes, &s.aws, &query, &mut |item| {
        if io_error.is_none()
            && let Err(e) = write_item(
                &item,
                &mut file,
                &mut state,
                &state_path,
                &mut tally,
                s.quiet,
            )
        {
            io_error = Some(e.context(format!("writing `{}`", s.output.display())));
        }
        true
    })?;
    if let Some(e) = io_error {
        return Err(e);
    }
    eprintln!(
        "denydiff: fetched {} items ({} records) into `{}`; {} skipped, {} failed",
        tally.items,
        tally.records,
        s.output.display(),
        tally.skipped,
        tally.failed
    );
    Ok(if tally.failed > 0 {
        ExitStatus::InputsFailed
    } else {
        ExitStatus::Ok
    })
}

fn write_item(
    item: &Item,
    file: &mut std::fs::File,
    state: &mut Resume,
    state_path: &Path,
    tally: &mut Tally,
    quiet: bool,
) -> anyhow::Result<()> {
    let failure = match &item.payload {
        Payload::Failed(reason) => Err(reason.clone()),
        other => lines(other),
    };
    let records = match failure {
        Err(reason) => {
            tally.failed += 1;
            if !quiet {
                eprintln!("denydiff: `{}`: {reason}", item.source);
            }
            return Ok(());
        }
        Ok(None) => {
            tally.skipped += 1;
            mark_done(item, state);
            return save_state(state, state_path);
        }
        Ok(Some(records)) => records,
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for r in &records {
        gz.write_all(r.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    file.write_all(&gz.finish()?)?;
    file.sync_data()?;
    tally.items += 1;
    tally.records += records.len() as u64;
    mark_done(item, state);
    save_state(state, state_path)
}

fn mark_done(item: &Item, state: &mut Resume) {
    match &item.payload {
        Payload::Page { region, next, .. } => {
            state
                .lookup_tokens
                .insert(region.clone(), next.clone().unwrap_or_default());
        }
        _ => {
            state.s3_done.insert(item.source.clone());
        }
    }
}

fn state_path(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(".state.json");
    PathBuf::from(p)
}

fn read_state(path: &Path) -> anyhow::Result<Resume> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("`{}` is not a fetch state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Resume::default()),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// Writes the state next to the file, atomically (write, then rename).
fn save_state(state: &Resume, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(state)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
