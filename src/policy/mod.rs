//! Key policies: parse a KMS key policy, evaluate it against one caller's
//! request context, and propose verified fixes for the statement that blocks it.
//!
//! The pipeline is `parse` (JSON text -> typed [`Policy`] that still holds the
//! original document) -> `eval` (pure, three-valued [`evaluate`] that records
//! per-statement and per-condition evidence) -> `fix` (patch the original
//! document, re-parse it, and [`verify`] the patch by evaluating again). This
//! module does no I/O and knows nothing about `CloudTrail`: building a
//! [`Context`] from an event is the caller's job, helped by the caller-class
//! constructors on [`Context`].
//!
//! Semantics follow the IAM User Guide pages "Policy evaluation logic",
//! "IAM JSON policy elements: Condition operators", "Conditions with multiple
//! context keys or values", "IAM policy elements: Variables and tags" and
//! "AWS JSON policy elements: Principal", and the KMS Developer Guide pages
//! "Key policies in AWS KMS" and "AWS KMS condition keys". Where those pages are
//! silent, the rule chosen is written next to the code that applies it.

mod cond;
pub mod context;
mod diff;
pub mod eval;
pub mod fix;
pub mod parse;
mod pattern;
pub mod tri;

pub use context::{Context, Principal, Request, Seen};
pub use eval::{ConditionTrace, Decision, DecisionSummary, Outcome, StatementTrace, evaluate};
pub use fix::{
    BlockedCaller, Blocking, CheckResult, Expectation, Fix, FixError, FixKind, Verification, holds,
    patch, patch_all, patch_blocking, unified_diff, value_rank, verify,
};
pub use parse::{
    Condition, Effect, Location, Operator, OperatorKind, ParseError, Policy, PrincipalPattern,
    SetQualifier, Statement, Targets, Version, parse_policy, parse_policy_value,
};
pub use tri::Tri;

#[cfg(test)]
mod props;
#[cfg(test)]
mod testdata;
