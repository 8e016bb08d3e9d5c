//! The command line: `racegate fire`, `racegate repro`, `racegate merge`.
//! Parses flags into the library's types and maps outcomes to exit codes:
//! 0 gate passed, 1 gate failed, 2 usage or setup error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::check::{BodyCheck, Checks, StatusSet};
use crate::engine::Progress;
use crate::fire::{run_config, Fire, FireError, Stop};
use crate::report::{Gate, Report};

/// Exit code: the gate passed.
pub const EXIT_PASS: u8 = 0;
/// Exit code: the gate failed.
pub const EXIT_FAIL: u8 = 1;
/// Exit code: usage or setup error.
pub const EXIT_USAGE: u8 = 2;

/// racegate: prove an async service stays correct under concurrency.
#[derive(Debug, Parser)]
#[command(name = "racegate", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fire concurrent requests at a URL, judge every response, gate on the pass rate.
    Fire(Box<FireArgs>),
    /// Reproduce issues from scenario files: buggy build vs fixed, with a verdict.
    Repro(crate::repro::ReproArgs),
    /// Merge report.json files from several runs into one, exactly.
    Merge(MergeArgs),
    /// Run racegate's reference chat server (the same as `racegate-server`).
    Server(Box<racegate_server::ServerConfig>),
}

/// `racegate fire`.
#[derive(Debug, Args, Clone)]
pub struct FireArgs {
    /// The target, e.g. http://127.0.0.1:8080/api/chat (loopback unless --allow-remote).
    pub url: String,
    /// Total requests (default 200 unless -z is given).
    #[arg(short = 'n', long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// Run for this long instead: 500ms, 10s, 2m.
    #[arg(short = 'z', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent workers, each with its own kept-alive connection.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub concurrency: usize,
    /// Open loop: this many requests per second, latency measured from the intended send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// All workers wait at a barrier and send together, round after round (race hunting).
    #[arg(long)]
    pub burst: bool,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body, or @file; templates {i}, {worker}, {uuid}. Content-Type defaults to JSON for {…} bodies.
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// Per-request timeout: 500ms, 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Expected statuses: 200, 2xx, 200-204, lists (repeatable; default 2xx).
    #[arg(long = "expect-status")]
    pub expect_status: Vec<String>,
    /// The body must be JSON with this top-level field (or /json/pointer) (repeatable).
    #[arg(long = "expect-json-field")]
    pub expect_json_field: Vec<String>,
    /// The JSON at /pointer must equal value (JSON, or a bare string) (repeatable).
    #[arg(long = "expect-json")]
    pub expect_json: Vec<String>,
    /// The body must contain this text (repeatable).
    #[arg(long = "expect-body-contains")]
    pub expect_body_contains: Vec<String>,
    /// Gate: lowest acceptable pass rate, 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    pub min_pass_rate: f64,
    /// Gate: highest acceptable p99 latency in milliseconds.
    #[arg(long)]
    pub max_p99_ms: Option<f64>,
    /// Write report.json, report.md and junit.xml here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `racegate merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// report.json files of the same target and checks.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where to write the merged report.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `250ms`, `10s`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use 250ms, 10s, 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s, m or h")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("duration must be positive, got {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl FireArgs {
    /// The checks these flags ask for.
    pub fn checks(&self) -> Result<Checks, String> {
        let mut checks = Checks::default();
        let mut statuses: Option<StatusSet> = None;
        for spec in &self.expect_status {
            let set = StatusSet::parse(spec)?;
            match &mut statuses {
                Some(s) => s.extend(set),
                None => statuses = Some(set),
            }
        }
        if let Some(s) = statuses {
            checks.status = s;
        }
        for f in &self.expect_json_field {
            checks.body.push(BodyCheck::JsonField { field: f.clone() });
        }
        for spec in &self.expect_json {
            checks.body.push(BodyCheck::parse_json_equals(spec)?);
        }
        for t in &self.expect_body_contains {
            checks
                .body
                .push(BodyCheck::BodyContains { text: t.clone() });
        }
        Ok(checks)
    }

    /// The library builder these flags describe.
    pub fn to_fire(&self) -> Result<Fire, FireError> {
        let method = hyper::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| FireError::Usage(format!("bad method {:?}", self.method)))?;
        let mut fire = Fire::get(&self.url)
            .method(method)
            .concurrency(self.concurrency)
            .timeout(self.timeout)
            .allow_remote(self.allow_remote)
            .checks(self.checks().map_err(FireError::Usage)?)
            .gate(Gate {
                min_pass_rate: self.min_pass_rate,
                max_p99_ms: self.max_p99_ms,
            })
            .headers_from_specs(&self.headers)?;
        fire = match (self.requests, self.duration) {
            (_, Some(d)) => fire.duration(d),
            (Some(n), None) => fire.requests(n),
            (None, None) => fire.requests(200),
        };
        if let Some(r) = self.rate {
            fire = fire.rate(r);
        }
        if self.burst {
            fire = fire.burst();
        }
        if let Some(data) = &self.data {
            let body = match data.strip_prefix('@') {
                Some(path) => std::fs::read(path).map_err(|e| {
                    FireError::Usage(format!("cannot read body file {path:?}: {e}"))
                })?,
                None => data.clone().into_bytes(),
            };
            fire = fire.body(body);
        }
        Ok(fire)
    }
}

/// Runs the CLI and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    if let Command::Server(config) = &cli.command {
        // The server builds its own runtimes.
        return racegate_server::run_cli(config);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("racegate: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Fire(args) => runtime.block_on(fire(&args)),
        Command::Repro(args) => runtime.block_on(crate::repro::run(&args)),
        Command::Merge(args) => merge(&args),
        Command::Server(_) => unreachable!("handled above"),
    }
}

async fn fire(args: &FireArgs) -> u8 {
    let config = match args.to_fire() {
        Ok(f) => f.resolve().await,
        Err(e) => Err(e),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("racegate: {e}");
            return EXIT_USAGE;
        }
    };
    let progress = Arc::new(Progress::default());
    let bar = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| spawn_progress(Arc::clone(&progress), config.stop));
    let report = run_config(config, progress).await;
    if let Some((bar, task)) = bar {
        task.abort();
        bar.finish_and_clear();
    }
    finish(&report, args.out.as_deref(), args.quiet)
}

/// Writes a line to stdout. A closed stdout (`racegate … | head -1`) is not
/// an error worth dying for: the exit code still carries the verdict.
pub fn say(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end_matches('\n'));
}

/// Prints the summary, writes the files, returns the exit code.
pub fn finish(report: &Report, out: Option<&std::path::Path>, quiet: bool) -> u8 {
    if let Some(dir) = out {
        if let Err(e) = report.write(dir) {
            eprintln!("racegate: cannot write the report: {e}");
            return EXIT_USAGE;
        }
    }
    if !quiet {
        say(&report.summary());
    }
    if report.gate.passed {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

fn spawn_progress(
    progress: Arc<Progress>,
    stop: Stop,
) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = match stop {
        Stop::Requests(n) => indicatif::ProgressBar::new(n),
        Stop::Duration(d) => {
            indicatif::ProgressBar::new(d.as_millis().try_into().unwrap_or(u64::MAX))
        }
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let b = bar.clone();
    let started = std::time::Instant::now();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let done = progress.done.load(Ordering::Relaxed);
            let failed = progress.failed.load(Ordering::Relaxed);
            match stop {
                Stop::Requests(_) => b.set_position(done),
                Stop::Duration(_) => {
                    b.set_position(started.elapsed().as_millis().try_into().unwrap_or(u64::MAX))
                }
            }
            let rps = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            b.set_message(format!("{done} done, {failed} failed, {rps:.0} req/s"));
        }
    });
    (bar, task)
}

fn merge(args: &MergeArgs) -> u8 {
    let mut merged: Option<Report> = None;
    for path in &args.reports {
        let report = match Report::read(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("racegate: {e}");
                return EXIT_USAGE;
            }
        };
        match &mut merged {
            None => merged = Some(report),
            Some(m) => {
                if let Err(e) = m.merge(&report) {
                    eprintln!("racegate: {}: {e}", path.display());
                    return EXIT_USAGE;
                }
            }
        }
    }
    match merged {
        Some(m) => finish(&m, Some(&args.out), false),
        None => EXIT_USAGE,
    }
}
