//! Integration tests: the real binary on fixtures, the real samples, and
//! generated corpora. One test binary with modules (as ripgrep and uv do).

mod cli;
mod corpus;
mod real_samples;
mod util;
