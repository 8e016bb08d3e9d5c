//! racegate: fire N concurrent requests at a service, judge every response,
//! and say with numbers whether a concurrency fix holds.
//!
//! - [`fire`]: the builder ([`Fire`]) and entry point the CLI shares.
//! - [`engine`]: workers, connections, closed/open loop and burst scheduling.
//! - [`check`]: status and body checks, failure kinds.
//! - [`cluster`]: failure messages normalised into clusters.
//! - [`stats`]: per-worker tallies and HDR histograms.
//! - [`report`]: the report model, Wilson interval, gate, JSON/Markdown/JUnit.
//! - [`request`]: target, headers and body templates.
//! - [`scenario`], [`repro`]: issue-reproduction recipes and `racegate repro`.
//! - [`cli`]: flags and exit codes.

pub mod check;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod fire;
pub mod report;
pub mod repro;
pub mod request;
pub mod scenario;
pub mod stats;

pub use check::{BodyCheck, Checks, FailureKind, StatusSet};
pub use fire::{Fire, FireConfig, FireError, Stop};
pub use report::{Gate, Report};
