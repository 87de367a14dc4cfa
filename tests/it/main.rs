//! Integration tests: the real binary on fixtures, the real samples, and
//! generated corpora. One test binary with modules (as ripgrep and uv do).

mod aws;
mod bad_input;
mod causes;
mod check;
mod cli;
mod completions;
mod corpus;
mod diagnosis;
mod evidence;
mod explain;
mod fix_kinds;
mod grants;
mod html_report;
mod parallel;
mod real_samples;
mod redact;
mod reduced_table;
mod remote;
mod stalls;
mod terminal;
mod trail_scope;
mod util;
mod verdicts;
