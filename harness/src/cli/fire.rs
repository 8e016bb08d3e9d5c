//! `racegate fire`: flags → [`Fire`] → report files, summary and exit code.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::flags::{FaultFlags, FireShape, GateFlags, OutputFlags, TargetFlags};
use super::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::check::CheckSpec;
use crate::console::{aside, say, warn};
use crate::duration::parse_duration;
use crate::engine::Progress;
use crate::fire::{run_config, Fire, FireError};
use crate::gate::Gate;
use crate::plan::Stop;
use crate::render::files::{write_pages, Page};
use crate::report::Report;
use crate::request::parse_method;

/// `racegate fire`.
#[derive(Debug, Args, Clone)]
pub struct FireArgs {
    /// Where the requests go.
    #[command(flatten)]
    pub target: TargetFlags,
    /// How many, how hard.
    #[command(flatten)]
    pub shape: FireShape,
    /// Run for this long instead of -n: 500ms, 10s, 2m.
    #[arg(short = 'z', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
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
    /// The checks every response must pass.
    #[command(flatten)]
    pub checks: CheckSpec,
    /// What passes.
    #[command(flatten)]
    pub gate: GateFlags,
    /// What the nemesis breaks.
    #[command(flatten)]
    pub faults: FaultFlags,
    /// Seed of the fault decisions (default: random, printed and recorded, so a run can be replayed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// What is written.
    #[command(flatten)]
    pub output: OutputFlags,
    /// Timeline bucket width at the start, doubled as the run grows (at most 500 buckets).
    #[arg(long, default_value = "1ms", value_parser = parse_duration)]
    pub bucket: Duration,
    /// Run shard I of N (e.g. 2/4): indices i with i % N == I, and 1/N of --rate.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "shards")]
    pub shard: Option<(u32, u32)>,
    /// Split into N shards, this one's index from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Start at this wall-clock time (RFC 3339 or unix milliseconds), so shards start together.
    #[arg(long, value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Name of the split run, recorded in each shard's report (merge groups by it).
    #[arg(long, env = "RACEGATE_RUN_ID")]
    pub run_id: Option<String>,
}

/// `I/N`.
fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("bad shard {s:?}: use I/N, e.g. 0/4"))?;
    let parse = |x: &str| {
        x.trim()
            .parse::<u32>()
            .map_err(|_| format!("bad shard {s:?}: use I/N, e.g. 0/4"))
    };
    Ok((parse(i)?, parse(n)?))
}

/// RFC 3339 (`2026-11-29T10:00:00Z`) or unix milliseconds.
fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(ms) = s.trim().parse::<u64>() {
        return Ok(std::time::UNIX_EPOCH + Duration::from_millis(ms));
    }
    humantime::parse_rfc3339_weak(s.trim())
        .map_err(|e| format!("bad --start-at {s:?}: {e}; use RFC 3339 or unix milliseconds"))
}

impl FireArgs {
    /// `--shard I/N`, or `--shards N` with the index from
    /// `$JOB_COMPLETION_INDEX`.
    fn shard_spec(&self) -> Result<Option<(u32, u32)>, FireError> {
        if let Some(n) = self.shards {
            let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                FireError::Invalid(
                    "--shards N takes this shard's index from $JOB_COMPLETION_INDEX, which is not set; use --shard I/N".into(),
                )
            })?;
            let index = index.trim().parse().map_err(|_| {
                FireError::Invalid(format!("$JOB_COMPLETION_INDEX is {index:?}, not a number"))
            })?;
            return Ok(Some((index, n)));
        }
        Ok(self.shard)
    }

    /// The library builder these flags describe.
    pub fn to_fire(&self) -> Result<Fire, FireError> {
        let method = parse_method(&self.method).map_err(|e| FireError::Invalid(e.to_string()))?;
        let mut fire = Fire::get(&self.target.url)
            .method(method)
            .concurrency(self.shape.concurrency)
            .timeout(self.shape.timeout)
            .allow_remote(self.target.allow_remote)
            .tls(self.target.tls())
            .timeline_bucket(self.bucket)
            .checks(self.checks.clone())
            .gate(self.gate.over(Gate::default()));
        for h in &self.headers {
            fire = fire.header(h);
        }
        if let Some(streams) = self.target.http2() {
            fire = fire.http2(streams);
        }
        fire = match self.duration {
            Some(d) => fire.duration(d),
            None => fire.requests(self.shape.requests),
        };
        if let Some(r) = self.rate {
            fire = fire.rate(r);
        }
        if let Some((index, count)) = self.shard_spec()? {
            fire = fire.shard(index, count);
        }
        if let Some(at) = self.start_at {
            fire = fire.start_at(at);
        }
        if let Some(id) = &self.run_id {
            fire = fire.run_id(id.clone());
        }
        if self.burst {
            fire = fire.burst();
        }
        if let Some(cancel) = &self.faults.cancel {
            fire = fire.cancel(cancel.clone());
        }
        for spec in &self.faults.proxy {
            fire = fire.fault(spec.clone());
        }
        fire = fire.recovery_floor(self.faults.recovery_floor);
        if let Some(seed) = self.seed {
            fire = fire.seed(seed);
        }
        if let Some(data) = &self.data {
            let body = match data.strip_prefix('@') {
                Some(path) => std::fs::read(path).map_err(|e| {
                    FireError::Invalid(format!("cannot read body file {path:?}: {e}"))
                })?,
                None => data.clone().into_bytes(),
            };
            fire = fire.body(body);
        }
        Ok(fire)
    }
}

pub(super) async fn run(args: &FireArgs) -> u8 {
    let config = match args.to_fire() {
        Ok(f) => f.resolve().await,
        Err(e) => Err(e),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            warn(e);
            return EXIT_USAGE;
        }
    };
    let progress = Arc::new(Progress::default());
    let bar = (!args.output.quiet && std::io::stderr().is_terminal())
        .then(|| spawn_progress(Arc::clone(&progress), config.stop));
    let report = run_config(config, progress).await;
    if let Some((bar, task)) = bar {
        task.abort();
        bar.finish_and_clear();
    }
    match report {
        Ok(report) => finish(&report, &args.output, Vec::new()),
        Err(e) => {
            warn(e);
            EXIT_USAGE
        }
    }
}

/// Writes the report's pages and `extra` ones under `--out`, prints the
/// report (`--json`: one line on stdout, the summary on stderr), returns
/// the gate's exit code.
pub(super) fn finish(report: &Report, output: &OutputFlags, extra: Vec<Page>) -> u8 {
    if let Some(dir) = &output.out {
        let mut pages = report.pages();
        pages.extend(extra);
        if let Err(e) = write_pages(dir, pages) {
            warn(format_args!("cannot write the report: {e}"));
            return EXIT_USAGE;
        }
    }
    if output.json {
        // One line on stdout for pod logs and pipes; the summary on stderr.
        say(&serde_json::to_string(report)
            .unwrap_or_else(|_| unreachable!("the report model always serialises")));
        if !output.quiet {
            aside(&report.summary());
        }
    } else if !output.quiet {
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
    let style = indicatif::ProgressStyle::with_template("{bar:16} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let b = bar.clone();
    let started = std::time::Instant::now();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last_done = 0;
        loop {
            tick.tick().await;
            let done = progress.done.load(Ordering::Relaxed);
            let failed = progress.failed.load(Ordering::Relaxed);
            let elapsed = started.elapsed();
            match stop {
                Stop::Requests(_) => b.set_position(done),
                Stop::Duration(_) => {
                    b.set_position(elapsed.as_millis().try_into().unwrap_or(u64::MAX))
                }
            }
            let now = crate::engine::unix_ms(std::time::SystemTime::now());
            let p99_us = progress.with_timeline(|t| t.recent(now, 1000).latency.quantile(0.99));
            b.set_message(live_line(elapsed, done - last_done, done, failed, p99_us));
            last_done = done;
        }
    });
    (bar, task)
}

/// The live line: elapsed, requests in the last second, the pass rate so
/// far, and the p99 of the last second's answers.
fn live_line(elapsed: Duration, last_second: u64, done: u64, failed: u64, p99_us: u64) -> String {
    let pass = if done == 0 {
        "-".to_owned()
    } else {
        crate::render::text::percent((done - failed) as f64 / done as f64)
    };
    let p99 = if p99_us == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} ms", p99_us as f64 / 1000.0)
    };
    format!(
        "{:>4.0}s {last_second:>7} req/s  pass {pass}  p99 {p99}  {failed} failed",
        elapsed.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_names_its_figures() {
        let line = live_line(Duration::from_millis(3200), 9812, 30_000, 15, 4200);
        assert_eq!(
            line,
            "   3s    9812 req/s  pass 99.95%  p99 4.2 ms  15 failed"
        );
        // Fits an 80-column terminal beside the 16-column bar.
        assert!(line.len() + 17 <= 80);
        assert!(live_line(Duration::ZERO, 0, 0, 0, 0).contains("pass -  p99 -"));
    }
}
