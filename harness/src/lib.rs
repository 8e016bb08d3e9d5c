//! racegate: fire N concurrent requests at a service, judge every response,
//! and say with numbers whether a concurrency fix holds.
//!
//! Modules, top (the command line) to bottom; each imports only below it:
//!
//! - [`cli`]: flags, subcommands and exit codes.
//! - [`repro`]: scenario runs, buggy build vs fixed, with verdicts; [`scenario`]: the files.
//! - [`kv`]: a keyed read/write workload whose history is checked.
//! - [`fire`]: the [`Fire`] builder and entry point the CLI shares.
//! - [`engine`]: workers, HTTP/1.1 connections and HTTP/2 streams, closed/open loop, burst, halting.
//! - [`report`]: the report model, exact merging, and its Markdown/JUnit/terminal forms.
//! - [`plan`]: a resolved run ([`FireConfig`], [`Stop`], [`Halt`]).
//! - [`stats`]: per-thread tallies; [`cluster`]: failure messages normalised;
//!   [`timeline`]: the run over time, in bounded wall-clock buckets.
//! - [`histogram`]: latency histograms (the run's HDR, a bucket's coarse one)
//!   and the one place percentiles are read from them.
//! - [`check`]: the one check specification ([`CheckSpec`]), judging, symptoms.
//! - [`request`]: target, method, headers and body templates; [`gate`]: thresholds.
//! - [`tls`]: whom an `https://` target is trusted as, and why a handshake failed.
//! - [`render`]: the primitives every report shares (text, Markdown, JUnit XML, charts, pages, file writing).
//! - [`history`]: linearizability checking of recorded operations (pure, no I/O).
//! - [`rate`]: the pass rate and its Wilson interval; [`outcome`]: failure kinds.
//! - [`duration`], [`console`]: duration parsing, terminal output.

pub mod check;
pub mod cli;
pub mod cluster;
pub mod console;
pub mod duration;
pub mod engine;
pub mod fire;
pub mod gate;
pub mod histogram;
pub mod history;
pub mod kv;
pub mod nemesis;
pub mod outcome;
pub mod plan;
pub mod rate;
pub mod render;
pub mod report;
pub mod repro;
pub mod request;
pub mod scenario;
pub mod stats;
pub mod timeline;
pub mod tls;

pub use check::{CheckSpec, Checks, StatusSet, Symptom};
pub use fire::{Fire, FireError};
pub use gate::Gate;
pub use outcome::FailureKind;
pub use plan::{FireConfig, Halt, Stop};
pub use report::Report;
pub use tls::TlsOptions;
