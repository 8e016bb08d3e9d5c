//! The flag groups that several subcommands share, each defined once and
//! flattened into every subcommand that takes it: where the requests go
//! ([`TargetFlags`]), how many and how hard ([`RunShape`]), what is written
//! ([`OutputFlags`]) and what passes ([`GateFlags`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::duration::parse_duration;
use crate::gate::{parse_pass_rate, Gate};
use crate::plan::REQUEST_TIMEOUT;

/// Where the requests go.
#[derive(Debug, Clone, Args)]
pub struct TargetFlags {
    /// The target on this machine, e.g. http://127.0.0.1:8080/api/chat (for kv, the base URL).
    pub url: String,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
}

/// A subcommand's defaults for [`RunShape`].
pub trait ShapeDefaults: Clone + Send + Sync + 'static {
    /// Concurrent workers.
    const CONCURRENCY: usize;
    /// Requests in all (when no duration is given).
    const REQUESTS: u64;
}

/// How many requests, over how many connections, each waited for how long.
#[derive(Debug, Clone, Args)]
pub struct RunShape<D: ShapeDefaults> {
    /// Concurrent workers, each with its own kept-alive connection.
    #[arg(short = 'c', long, default_value_t = D::CONCURRENCY)]
    pub concurrency: usize,
    /// Requests in all.
    #[arg(short = 'n', long, default_value_t = D::REQUESTS)]
    pub requests: u64,
    /// Per-request (and per-connect) timeout: 500ms, 10s. A write that times out may or may not have taken effect.
    #[arg(long, default_value = REQUEST_TIMEOUT, value_parser = parse_duration)]
    pub timeout: Duration,
    #[arg(skip)]
    _defaults: std::marker::PhantomData<D>,
}

/// What is written, and where.
#[derive(Debug, Clone, Args)]
pub struct OutputFlags {
    /// Write report.json, report.md, report.html and junit.xml here (and history.html for a history violation).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report as one line of JSON on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// No live line and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What passes: the thresholds the run is gated on.
#[derive(Debug, Clone, Args)]
pub struct GateFlags {
    /// Gate: lowest acceptable pass rate, 0 to 1 [default: 1, or for merge the runs' own].
    #[arg(long, value_parser = parse_pass_rate)]
    pub min_pass_rate: Option<f64>,
    /// Gate: highest acceptable p99 latency in milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
}

impl GateFlags {
    /// The gate these flags set over `base`, which supplies what they leave
    /// unset.
    pub fn over(&self, base: Gate) -> Gate {
        Gate {
            min_pass_rate: self.min_pass_rate.unwrap_or(base.min_pass_rate),
            max_p99_ms: self.max_p99_ms.or(base.max_p99_ms),
        }
    }
}
