//! The flag groups that several subcommands share, each defined once and
//! flattened into every subcommand that takes it: where the requests go
//! ([`TargetFlags`]), how many and how hard ([`FireShape`], [`KvShape`]), what is written
//! ([`OutputFlags`]), what passes ([`GateFlags`]) and what the nemesis
//! breaks on purpose ([`FaultFlags`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::duration::parse_duration;
use crate::gate::{parse_pass_rate, Gate};
use crate::nemesis::proxy::ProxyFault;
use crate::nemesis::CancelSpec;
use crate::plan::REQUEST_TIMEOUT;
use crate::tls::TlsOptions;

/// Where the requests go.
#[derive(Debug, Clone, Args)]
pub struct TargetFlags {
    /// The target on this machine, e.g. http://127.0.0.1:8080/api/chat (for kv, the base URL).
    pub url: String,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// For https://: trust the CA certificates in this PEM file (besides the system's).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// For https://: do not verify the server's certificate (said in the summary and recorded in the report).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Speak HTTP/2: ALPN h2 over https://, prior knowledge (h2c) over http://.
    #[arg(long)]
    pub http2: bool,
    /// With --http2: concurrent streams on each of the -c connections.
    #[arg(short = 'p', long, default_value_t = 1, requires = "http2")]
    pub streams: usize,
}

impl TargetFlags {
    /// `--http2 -p N`: the streams per connection; `None`: HTTP/1.1.
    pub fn http2(&self) -> Option<usize> {
        self.http2.then_some(self.streams)
    }

    /// Whom an `https://` target is trusted as.
    pub fn tls(&self) -> TlsOptions {
        TlsOptions {
            cacert: self.cacert.clone(),
            insecure: self.insecure,
        }
    }
}

/// Defines a run-shape flag group (`-c`, `-n`, `--timeout`) with a
/// subcommand's own defaults. One definition, stamped per subcommand: a
/// generic struct would share clap's cached default text between them.
macro_rules! run_shape {
    ($(#[$doc:meta])* $name:ident, concurrency = $c:expr, requests = $n:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Args)]
        pub struct $name {
            /// Concurrent workers, each with its own kept-alive connection.
            #[arg(short = 'c', long, default_value_t = $c)]
            pub concurrency: usize,
            /// Requests in all.
            #[arg(short = 'n', long, default_value_t = $n)]
            pub requests: u64,
            /// Per-request (and per-connect) timeout: 500ms, 10s. A write that times out may or may not have taken effect.
            #[arg(long, default_value = REQUEST_TIMEOUT, value_parser = parse_duration)]
            pub timeout: Duration,
        }
    };
}

run_shape!(
    /// How many requests `fire` sends, over how many connections, each
    /// waited for how long.
    FireShape,
    concurrency = 50,
    requests = 200
);

run_shape!(
    /// How many operations `kv` runs, over how many connections, each
    /// waited for how long: the workload's own defaults.
    KvShape,
    concurrency = crate::kv::spec::CONCURRENCY,
    requests = crate::kv::spec::REQUESTS
);

/// What is written, and where.
#[derive(Debug, Clone, Args)]
pub struct OutputFlags {
    /// Write report.json, report.md, report.html and junit.xml here (kv adds history.jsonl, and history.html for a violation).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report as one line of JSON on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// No live line and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The nemesis: faults injected on purpose during the run.
#[derive(Debug, Clone, Args)]
pub struct FaultFlags {
    /// Abandon a share of requests after a random delay, as a client that gives up: RATE:MIN..MAX[@FROM..TO], e.g. 10%:0ms..50ms. They count as faulted, not judged.
    #[arg(long, value_name = "RATE:MIN..MAX")]
    pub cancel: Option<CancelSpec>,
    /// Send the run through a fault proxy (repeatable): latency=20ms[~10ms], reset=5%, stall=2%, slice=1..64B, bandwidth=256KiB/s, close-after=4KiB, each with an optional @FROM..TO window. Requests it resets, stalls or closes count as faulted.
    #[arg(long = "fault", value_name = "SPEC")]
    pub proxy: Vec<ProxyFault>,
    /// The pass rate a timeline bucket needs, after a fault window, to count as recovered (0 to 1).
    #[arg(long, value_parser = parse_pass_rate, default_value_t = crate::nemesis::RECOVERY_FLOOR)]
    pub recovery_floor: f64,
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
    /// Gate: longest acceptable recovery after a fault window, e.g. 2s (a window that never recovers fails).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_recovery: Option<Duration>,
}

impl GateFlags {
    /// The gate these flags set over `base`, which supplies what they leave
    /// unset.
    pub fn over(&self, base: Gate) -> Gate {
        Gate {
            min_pass_rate: self.min_pass_rate.unwrap_or(base.min_pass_rate),
            max_p99_ms: self.max_p99_ms.or(base.max_p99_ms),
            max_recovery_ms: self
                .max_recovery
                .map(crate::duration::millis)
                .or(base.max_recovery_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn each_subcommand_keeps_its_own_run_shape_defaults() {
        let parse =
            |args: &[&str]| Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let kv = parse(&[
            "racegate",
            "kv",
            "http://127.0.0.1:1",
            "--read",
            "GET /k/{key}",
            "--write",
            "PUT /k/{key}",
        ]);
        let Command::Kv(kv) = kv.command else {
            panic!("kv parsed as another subcommand")
        };
        let workload = kv.workload();
        assert_eq!(
            (workload.concurrency, workload.requests),
            (crate::kv::spec::CONCURRENCY, crate::kv::spec::REQUESTS)
        );
        let Command::Fire(fire) = parse(&["racegate", "fire", "http://127.0.0.1:1"]).command else {
            panic!("fire parsed as another subcommand")
        };
        assert_eq!((fire.shape.concurrency, fire.shape.requests), (50, 200));
        assert_eq!(fire.gate.min_pass_rate, None);
    }
}
