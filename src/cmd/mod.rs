//! One file per command: each reads its settings, wires the stages
//! (source -> collect -> analysis -> report) and returns the exit status.

pub mod analyze;
pub mod explain;
pub mod fetch;
pub mod sql;
