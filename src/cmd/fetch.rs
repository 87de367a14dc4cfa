//! `denydiff fetch`: remote events into a gzipped NDJSON file that `analyze`
//! reads like any other, so an analysis can be re-run offline.
//!
//! Each S3 object or LookupEvents page is appended as its own gzip member
//! (the decoder reads multi-member gzip), then the progress is recorded in
//! `<FILE>.state.json`: the S3 objects done, and per region and lookup the
//! `NextToken` to continue from, and the file's length after the last item
//! written whole. `--resume` first cuts the file back to that length (a
//! run killed while writing leaves half a gzip member, which would end the
//! reading of the file there), then skips what the state says is done; an
//! item written just before an interruption may be fetched again, and
//! `analyze` drops the duplicates on `eventID`.

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

/// `<FILE>.state.json`: the sources' progress, and the file's length when
/// it was saved (`None` in a state written before lengths were kept).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    #[serde(flatten)]
    progress: Resume,
    #[serde(default)]
    file_len: Option<u64>,
}

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
    let mut state = State::default();
    if s.resume {
        state = read_state(&state_path)?;
        cut_back(&s.output, state.file_len)?;
        query.resume = state.progress.clone();
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
    state: &mut State,
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
            mark_done(item, &mut state.progress);
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
    mark_done(item, &mut state.progress);
    state.file_len = Some(file.metadata()?.len());
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

fn read_state(path: &Path) -> anyhow::Result<State> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("`{}` is not a fetch state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
}

/// Cuts the file back to the length its state recorded: what a killed run
/// wrote after that is an item it never marked done.
fn cut_back(output: &Path, len: Option<u64>) -> anyhow::Result<()> {
    let (Some(len), Ok(meta)) = (len, std::fs::metadata(output)) else {
        return Ok(());
    };
    if meta.len() < len {
        anyhow::bail!(
            "`{}` is {} bytes, shorter than the {len} its state records\nhint: fetch again without `--resume`",
            output.display(),
            meta.len()
        );
    }
    if meta.len() > len {
        let file = OpenOptions::new()
            .write(true)
            .open(output)
            .with_context(|| format!("opening `{}`", output.display()))?;
        file.set_len(len)
            .with_context(|| format!("cutting `{}` back to {len} bytes", output.display()))?;
    }
    Ok(())
}

/// Writes the state next to the file, atomically (write, then rename).
fn save_state(state: &State, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(state)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
