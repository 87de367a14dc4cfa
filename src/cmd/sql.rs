//! `denydiff sql`: print the query that reduces a trail to the reduced
//! table on the engine where the trail lives (`queries`).

use std::io::Write;

use crate::ExitStatus;
use crate::queries;
use crate::settings::SqlSettings;

pub fn run(s: &SqlSettings) -> anyhow::Result<ExitStatus> {
    queries::check_scope(s.engine, &s.selection)?;
    let mut out = std::io::stdout().lock();
    out.write_all(queries::query(s.engine, &s.selection).as_bytes())?;
    out.flush()?;
    Ok(ExitStatus::Ok)
}
