//! `racegate repro`: run scenario files against each variant of a server (the
//! buggy build and the fixed one), trial after trial, each on a free port with
//! a fresh database; then say, with pass rates and intervals, whether the bug
//! is detected and the fix holds.
//!
//! Every server is stopped with SIGTERM, killed after the scenario's stop
//! timeout, and killed on drop — so no server outlives `racegate repro`,
//! whatever fails.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use crate::check::FailureKind;
use crate::cli::{say, EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::cluster::{Clusters, FailureCluster};
use crate::engine::get_once;
use crate::fire::Fire;
use crate::report::{percent, wilson_ci95, xml_escape, Gate, Report};
use crate::scenario::{Expect, PlannedStep, Scenario, VerdictSpec};

/// `racegate repro`.
#[derive(Debug, Args)]
pub struct ReproArgs {
    /// Scenario files (see scenarios/).
    pub scenarios: Vec<PathBuf>,
    /// Run every *.toml in --dir.
    #[arg(long)]
    pub all: bool,
    /// Where --all looks for scenarios.
    #[arg(long, default_value = "scenarios")]
    pub dir: PathBuf,
    /// Trials per variant (default: the scenario's, usually 3).
    #[arg(long)]
    pub trials: Option<u32>,
    /// CI mode: one trial for variants that must fail (one detection shows
    /// the bug), the full count for variants that must pass.
    #[arg(long)]
    pub quick: bool,
    /// Write repro.json, repro.md and junit.xml per scenario here, plus an
    /// index README.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep servers' databases and logs here instead of a temporary directory.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Only the verdict lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A variant's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check held, with enough requests to claim it.
    Pass,
    /// A check failed: for a buggy variant, the bug was detected.
    Fail,
    /// No failure seen, but too few requests to claim the pass rate: run more.
    Inconclusive,
}

/// One state check over all trials.
#[derive(Clone, Debug, Serialize)]
pub struct StateSummary {
    /// The step's name.
    pub name: String,
    /// Trials where it held.
    pub passed_trials: u32,
    /// Trials where it did not.
    pub failed_trials: u32,
    /// The first failure's explanation.
    pub first_failure: Option<String>,
}

/// One variant over all trials.
#[derive(Clone, Debug, Serialize)]
pub struct VariantReport {
    /// The variant's name.
    pub name: String,
    /// What it must do.
    pub expect: Expect,
    /// What it did.
    pub verdict: Verdict,
    /// Whether the verdict is what was expected.
    pub ok: bool,
    /// The command that started its server (placeholders filled for trial 1).
    pub command: String,
    /// Trials run.
    pub trials: u32,
    /// Trials in which any step failed (for a buggy variant: detections).
    pub failed_trials: u32,
    /// Requests over all fire steps and trials.
    pub total: u64,
    /// Of which passed.
    pub passed: u64,
    /// `passed / total`.
    pub pass_rate: f64,
    /// 95 % Wilson interval.
    pub pass_rate_ci95: [f64; 2],
    /// Failure clusters over all fire steps and trials, largest first.
    pub failure_clusters: Vec<FailureCluster>,
    /// State checks.
    pub state_checks: Vec<StateSummary>,
    /// Each fire step's report, merged over the trials.
    pub steps: Vec<Report>,
}

/// One scenario's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// Layout version.
    pub schema_version: u32,
    /// The file stem.
    pub scenario: String,
    /// The file.
    pub file: String,
    /// The title.
    pub title: String,
    /// The summary.
    pub summary: String,
    /// What counts as a pass.
    pub verdict_spec: VerdictSpec,
    /// Per variant.
    pub variants: Vec<VariantReport>,
    /// Every variant as expected.
    pub ok: bool,
    /// Wall time, seconds.
    pub duration_s: f64,
}

/// A scenario could not be run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    /// Bad file.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The server could not be started or never became ready.
    #[error("{scenario} / {variant}: {message}")]
    Server {
        /// Scenario name.
        scenario: String,
        /// Variant name.
        variant: String,
        /// What happened, with the end of the server's log.
        message: String,
    },
    /// Local I/O.
    #[error("{0}")]
    Io(String),
}

/// Runs the scenarios and returns the exit code: 0 if every variant did what
/// it must (fixed ones pass, buggy ones are detected), 1 if not, 2 if a
/// scenario could not be run.
pub async fn run(args: &ReproArgs) -> u8 {
    let mut paths = args.scenarios.clone();
    if args.all {
        match scenario_files(&args.dir) {
            Ok(found) => paths.extend(found),
            Err(e) => {
                eprintln!("racegate: {e}");
                return EXIT_USAGE;
            }
        }
    }
    if paths.is_empty() {
        eprintln!(
            "racegate: name scenario files, or --all to run every one in {}",
            args.dir.display()
        );
        return EXIT_USAGE;
    }
    let scenarios: Result<Vec<Scenario>, _> = paths.iter().map(|p| Scenario::load(p)).collect();
    let scenarios = match scenarios {
        Ok(s) => s,
        Err(e) => {
            eprintln!("racegate: {e}");
            return EXIT_USAGE;
        }
    };
    let scratch = match &args.work_dir {
        Some(dir) => std::fs::create_dir_all(dir).map(|()| Scratch::Kept(dir.clone())),
        None => tempfile::Builder::new()
            .prefix("racegate-repro-")
            .tempdir()
            .map(Scratch::Temp),
    };
    let scratch = match scratch {
        Ok(s) => s,
        Err(e) => {
            eprintln!("racegate: cannot create a scratch directory: {e}");
            return EXIT_USAGE;
        }
    };
    tokio::select! {
        code = run_all(&scenarios, args, scratch.path()) => code,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the run drops every ServerProcess, which kills it.
            eprintln!("racegate: interrupted; servers stopped");
            EXIT_USAGE
        }
    }
}

async fn run_all(scenarios: &[Scenario], args: &ReproArgs, scratch: &Path) -> u8 {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for scenario in scenarios {
        match run_scenario(scenario, args, scratch).await {
            Ok(report) => {
                say(&terminal(&report, args.quiet));
                if let Some(out) = &args.out {
                    if let Err(e) = write_scenario(&report, out) {
                        eprintln!("racegate: {e}");
                        return EXIT_USAGE;
                    }
                }
                reports.push(report);
            }
            Err(e) => {
                eprintln!("racegate: {e}");
                errors.push(e);
            }
        }
    }
    if let Some(out) = &args.out {
        let index = out.join("README.md");
        if let Err(e) = std::fs::write(&index, index_markdown(&reports, args)) {
            eprintln!("racegate: {}: {e}", index.display());
            return EXIT_USAGE;
        }
    }
    let wrong: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.variants
                .iter()
                .filter(|v| !v.ok)
                .map(move |v| format!("{} / {}", r.scenario, v.name))
        })
        .collect();
    if !errors.is_empty() {
        return EXIT_USAGE;
    }
    if wrong.is_empty() {
        if reports.len() > 1 {
            say(&format!("repro: all {} scenarios as expected: every fixed variant passes, every injected bug is detected", reports.len()));
        }
        EXIT_PASS
    } else {
        say(&format!("repro: not as expected: {}", wrong.join(", ")));
        EXIT_FAIL
    }
}

enum Scratch {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Scratch {
    fn path(&self) -> &Path {
        match self {
            Scratch::Temp(t) => t.path(),
            Scratch::Kept(p) => p,
        }
    }
}

fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read scenario directory {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.toml scenarios in {}", dir.display()));
    }
    Ok(files)
}

async fn run_scenario(
    scenario: &Scenario,
    args: &ReproArgs,
    scratch: &Path,
) -> Result<ScenarioReport, ReproError> {
    let started = Instant::now();
    let steps = scenario
        .plan()
        .map_err(|message| crate::scenario::ScenarioError {
            path: scenario.path.display().to_string(),
            message,
        })?;
    let name = scenario.name();
    let mut variants = Vec::new();
    for (variant_name, variant) in &scenario.variants {
        let trials = match (args.quick, variant.expect) {
            (true, Expect::Fail) => 1,
            _ => args.trials.unwrap_or(scenario.trials),
        };
        if !args.quiet {
            eprintln!("racegate: {name} / {variant_name}: {trials} trial(s)…");
        }
        let mut fire_reports: Vec<Option<Report>> = vec![None; steps.len()];
        let mut state: Vec<StateSummary> = Vec::new();
        let mut failed_trials = 0;
        let mut command_line = String::new();
        for trial in 1..=trials {
            let dir = scratch.join(format!("{name}-{variant_name}-{trial}"));
            std::fs::create_dir_all(&dir)
                .map_err(|e| ReproError::Io(format!("{}: {e}", dir.display())))?;
            let server_err = |message: String| ReproError::Server {
                scenario: name.clone(),
                variant: variant_name.clone(),
                message,
            };
            let mut server =
                ServerProcess::start(scenario, variant_name, &dir).map_err(server_err)?;
            if trial == 1 {
                command_line = redact_paths(&server.command_line);
            }
            server.wait_ready(scenario).await.map_err(server_err)?;
            let mut trial_failed = false;
            for (i, step) in steps.iter().enumerate() {
                match step {
                    PlannedStep::Fire { .. } => {
                        let report = fire_step(step, server.addr).await.map_err(server_err)?;
                        trial_failed |= report.pass_rate < scenario.verdict.min_pass_rate;
                        match &mut fire_reports[i] {
                            Some(r) => r.merge(&report).map_err(|e| server_err(e.to_string()))?,
                            slot => *slot = Some(report),
                        }
                    }
                    PlannedStep::State {
                        name: step_name,
                        path,
                        pointer,
                        condition,
                    } => {
                        let outcome =
                            match get_once(server.addr, path, Duration::from_secs(10)).await {
                                Ok((200, body)) => {
                                    match serde_json::from_slice::<serde_json::Value>(&body) {
                                        Ok(v) => condition
                                            .check(v.pointer(pointer))
                                            .map_err(|m| format!("{path} {pointer} {m}")),
                                        Err(e) => Err(format!("{path} is not JSON: {e}")),
                                    }
                                }
                                Ok((status, _)) => Err(format!("GET {path} answered {status}")),
                                Err(e) => Err(format!("GET {path}: {e}")),
                            };
                        let summary = match state.iter_mut().find(|s| &s.name == step_name) {
                            Some(s) => s,
                            None => {
                                state.push(StateSummary {
                                    name: step_name.clone(),
                                    passed_trials: 0,
                                    failed_trials: 0,
                                    first_failure: None,
                                });
                                state.last_mut().unwrap_or_else(|| unreachable!())
                            }
                        };
                        match outcome {
                            Ok(()) => summary.passed_trials += 1,
                            Err(m) => {
                                trial_failed = true;
                                summary.failed_trials += 1;
                                summary.first_failure.get_or_insert(m);
                            }
                        }
                    }
                }
            }
            if trial_failed {
                failed_trials += 1;
            }
            server
                .stop(scenario.stop_timeout())
                .await
                .map_err(server_err)?;
        }
        let steps: Vec<Report> = fire_reports.into_iter().flatten().collect();
        variants.push(variant_report(
            variant_name,
            variant.expect,
            &scenario.verdict,
            command_line,
            trials,
            failed_trials,
            steps,
            state,
        ));
    }
    let ok = variants.iter().all(|v| v.ok);
    Ok(ScenarioReport {
        schema_version: 1,
        scenario: name,
        file: scenario.path.display().to_string(),
        title: scenario.title.clone(),
        summary: scenario.summary.trim().to_owned(),
        verdict_spec: scenario.verdict,
        variants,
        ok,
        duration_s: started.elapsed().as_secs_f64(),
    })
}

#[allow(clippy::too_many_arguments)]
fn variant_report(
    name: &str,
    expect: Expect,
    spec: &VerdictSpec,
    command: String,
    trials: u32,
    failed_trials: u32,
    steps: Vec<Report>,
    state_checks: Vec<StateSummary>,
) -> VariantReport {
    let total: u64 = steps.iter().map(|r| r.total).sum();
    let passed: u64 = steps.iter().map(|r| r.passed).sum();
    let pass_rate = if total == 0 {
        1.0
    } else {
        passed as f64 / total as f64
    };
    let ci = wilson_ci95(passed, total);
    let mut clusters = Clusters::default();
    for r in &steps {
        clusters.merge(r.failure_clusters.clone());
    }
    let state_failed = state_checks.iter().any(|s| s.failed_trials > 0);
    let verdict = if state_failed || pass_rate < spec.min_pass_rate {
        Verdict::Fail
    } else if total > 0 && ci[0] < spec.confidence_floor {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    };
    let ok = matches!(
        (expect, verdict),
        (Expect::Pass, Verdict::Pass) | (Expect::Fail, Verdict::Fail)
    );
    VariantReport {
        name: name.to_owned(),
        expect,
        verdict,
        ok,
        command,
        trials,
        failed_trials,
        total,
        passed,
        pass_rate,
        pass_rate_ci95: ci,
        failure_clusters: clusters.into_sorted(),
        state_checks,
        steps,
    }
}

async fn fire_step(step: &PlannedStep, addr: SocketAddr) -> Result<Report, String> {
    let PlannedStep::Fire {
        path,
        method,
        body,
        headers,
        concurrency,
        requests,
        burst,
        timeout,
        checks,
        ..
    } = step
    else {
        return Err("not a fire step".into());
    };
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("bad method {method:?}"))?;
    let mut fire = Fire::get(format!("http://{addr}{path}"))
        .method(method)
        .concurrency(*concurrency)
        .requests(*requests)
        .timeout(*timeout)
        .checks(checks.clone())
        .gate(Gate::default())
        .headers_from_specs(headers)
        .map_err(|e| e.to_string())?;
    if let Some(b) = body {
        fire = fire.body(b.clone());
    }
    if *burst {
        fire = fire.burst();
    }
    fire.run().await.map_err(|e| e.to_string())
}

/// A started server; killed on drop if still running.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    command_line: String,
}

impl ServerProcess {
    fn start(scenario: &Scenario, variant_name: &str, dir: &Path) -> Result<Self, String> {
        let variant = &scenario.variants[variant_name];
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let db = dir.join("server.db");
        let fill = |s: &str| {
            s.replace("{port}", &port.to_string())
                .replace("{db}", &db.display().to_string())
                .replace("{dir}", &dir.display().to_string())
        };
        let mut argv: Vec<String> = if !variant.command.is_empty() {
            variant.command.iter().map(|s| fill(s)).collect()
        } else if scenario.server.reference {
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot find the racegate binary: {e}"))?;
            vec![
                exe.display().to_string(),
                "server".into(),
                "--addr".into(),
                format!("127.0.0.1:{port}"),
                "--db".into(),
                db.display().to_string(),
            ]
        } else {
            scenario.server.command.iter().map(|s| fill(s)).collect()
        };
        argv.extend(scenario.server.args.iter().map(|s| fill(s)));
        argv.extend(variant.args.iter().map(|s| fill(s)));
        let log = dir.join("server.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(&argv[0]);
        // Its own process group, so stopping it reaches anything it started
        // (a shell wrapper's children included).
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(&argv[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .env("RUST_LOG", "warn");
        for (k, v) in scenario.server.env.iter().chain(&variant.env) {
            cmd.env(k, fill(v));
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", argv[0]))?;
        Ok(Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            command_line: argv.join(" "),
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n    ");
        if tail.is_empty() {
            "(the server printed nothing)".into()
        } else {
            format!("its last output:\n    {tail}")
        }
    }

    async fn wait_ready(&mut self, scenario: &Scenario) -> Result<(), String> {
        let timeout = scenario.ready_timeout();
        let deadline = Instant::now() + timeout;
        let path = &scenario.server.ready;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "`{}` exited ({status}) before becoming ready; {}",
                    self.command_line,
                    self.log_tail()
                ));
            }
            let last = match get_once(self.addr, path, Duration::from_millis(500)).await {
                Ok((200, _)) => return Ok(()),
                Ok((status, _)) => format!("{path} answered {status}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "`{}` was not ready within {timeout:?} (GET {path}: {last}); {}",
                    self.command_line,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal_group(&self, signal: nix::sys::signal::Signal) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // The group may already be gone; nothing to do then.
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
        }
    }

    /// SIGTERM to the server's process group; SIGKILL after `timeout`; then
    /// SIGKILL to whatever is left in the group.
    async fn stop(&mut self, timeout: Duration) -> Result<(), String> {
        self.signal_group(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + timeout;
        let mut result = Err(format!(
            "`{}` did not stop within {timeout:?} of SIGTERM and was killed",
            self.command_line
        ));
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                result = Ok(());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill();
        result
    }

    fn kill(&mut self) {
        self.signal_group(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rate_line(v: &VariantReport) -> String {
    let [lo, hi] = v.pass_rate_ci95;
    let mut line = format!("{} ({}–{})", percent(v.pass_rate), percent(lo), percent(hi));
    let state_failed = v
        .state_checks
        .iter()
        .map(|s| s.failed_trials)
        .max()
        .unwrap_or(0);
    if state_failed > 0 {
        // Every request can pass while the end state is wrong (lost writes).
        let _ = write!(
            line,
            ", state check failed in {state_failed}/{} trials",
            v.trials
        );
    }
    line
}

fn verdict_word(v: &VariantReport) -> String {
    match (v.expect, v.verdict) {
        (Expect::Fail, Verdict::Fail) => {
            format!("bug detected in {}/{} trials", v.failed_trials, v.trials)
        }
        (Expect::Fail, _) => {
            format!("bug NOT detected in {} trials ({:?})", v.trials, v.verdict).to_lowercase()
        }
        (Expect::Pass, Verdict::Pass) => format!(
            "fix holds in {}/{} trials",
            v.trials - v.failed_trials,
            v.trials
        ),
        (Expect::Pass, Verdict::Fail) => {
            format!("FAILS in {}/{} trials", v.failed_trials, v.trials)
        }
        (Expect::Pass, Verdict::Inconclusive) => {
            "inconclusive: too few requests for the confidence floor; run more trials".into()
        }
    }
}

/// The terminal table for one scenario.
fn terminal(r: &ScenarioReport, quiet: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} — {}",
        if r.ok { "✔" } else { "✘" },
        r.scenario,
        r.title
    );
    let line: Vec<String> = r
        .variants
        .iter()
        .map(|v| format!("{}: {}", v.name, rate_line(v)))
        .collect();
    let _ = writeln!(s, "  {}", line.join(" · "));
    for v in &r.variants {
        let _ = writeln!(
            s,
            "  {} {:<7} expect {:<4} → {}",
            if v.ok { "✔" } else { "✘" },
            v.name,
            format!("{:?}", v.expect).to_lowercase(),
            verdict_word(v)
        );
        if quiet {
            continue;
        }
        for st in &v.state_checks {
            if let Some(f) = &st.first_failure {
                let _ = writeln!(
                    s,
                    "      state check failed in {}/{} trials: {f}",
                    st.failed_trials,
                    st.failed_trials + st.passed_trials
                );
            }
        }
        for c in v.failure_clusters.iter().take(5) {
            let _ = writeln!(
                s,
                "      {:>6} × {:<13} {}",
                c.count,
                c.kind.name(),
                truncate(&c.message, 140)
            );
        }
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn write_scenario(r: &ScenarioReport, out: &Path) -> Result<(), ReproError> {
    let dir = out.join(&r.scenario);
    std::fs::create_dir_all(&dir).map_err(|e| ReproError::Io(format!("{}: {e}", dir.display())))?;
    let json = serde_json::to_string_pretty(r)
        .unwrap_or_else(|_| unreachable!("the report model always serialises"));
    for (name, text) in [
        ("repro.json", json),
        ("repro.md", markdown(r)),
        ("junit.xml", junit(r)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| ReproError::Io(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// `repro.md`.
fn markdown(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} {}\n\n**{}**\n\n{}\n",
        if r.ok { "✅" } else { "❌" },
        r.scenario,
        r.title,
        r.summary
    );
    let _ = writeln!(s, "| variant | expect | verdict | pass rate (95% CI) | requests | failed trials | server command |\n|---|---|---|---|---|---|---|");
    for v in &r.variants {
        let _ = writeln!(
            s,
            "| {} | {:?} | {} | {} | {} | {}/{} | `{}` |",
            v.name,
            v.expect,
            verdict_word(v),
            rate_line(v),
            v.total,
            v.failed_trials,
            v.trials,
            v.command
        );
    }
    for v in &r.variants {
        if v.failure_clusters.is_empty() && v.state_checks.iter().all(|c| c.failed_trials == 0) {
            continue;
        }
        let _ = writeln!(s, "\n## What `{}` got wrong\n", v.name);
        for st in v.state_checks.iter().filter(|c| c.failed_trials > 0) {
            let _ = writeln!(
                s,
                "- state check **{}** failed in {}/{} trials: {}",
                st.name,
                st.failed_trials,
                st.failed_trials + st.passed_trials,
                st.first_failure.as_deref().unwrap_or("")
            );
        }
        if !v.failure_clusters.is_empty() {
            let _ = writeln!(s, "\n| count | kind | failure |\n|---|---|---|");
            for c in v.failure_clusters.iter().take(10) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    c.count,
                    c.kind.name(),
                    truncate(&c.message, 200).replace('|', "\\|")
                );
            }
        }
    }
    let _ = writeln!(s, "\nSteps per trial:\n");
    if let Some(v) = r.variants.first() {
        for step in &v.steps {
            let _ = writeln!(
                s,
                "- fire `{} {}` at concurrency {}{} ({} requests over {} trials)",
                step.target.method,
                crate::report::endpoint(&step.target.url),
                step.load.concurrency,
                if step.load.burst { ", burst" } else { "" },
                step.total,
                v.trials
            );
        }
        for st in &v.state_checks {
            let _ = writeln!(s, "- state check: {}", st.name);
        }
    }
    let _ = writeln!(s, "\nA trial passes when every fire step reaches a pass rate of {} and every state check holds; a variant passes when, over all trials, it does and the 95% interval's lower bound is at least {}.", percent(r.verdict_spec.min_pass_rate), percent(r.verdict_spec.confidence_floor));
    s
}

/// Scratch paths and ports change every run; keep committed reports stable.
fn redact_paths(command: &str) -> String {
    command
        .split(' ')
        .map(|w| {
            if w.contains("/racegate-repro-") || w.ends_with("server.db") {
                "<db>".to_owned()
            } else if w.starts_with("127.0.0.1:") {
                "127.0.0.1:<port>".to_owned()
            } else if w.contains('/') && w.ends_with("racegate") {
                "racegate".to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `junit.xml`: one case per variant.
fn junit(r: &ScenarioReport) -> String {
    let failures = r.variants.iter().filter(|v| !v.ok).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    let _ = writeln!(x, "  <testsuite name=\"racegate repro {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">", xml_escape(&r.scenario), r.variants.len(), r.duration_s);
    for v in &r.variants {
        let name = match v.expect {
            Expect::Fail => format!("{}: the bug is detected", v.name),
            Expect::Pass => format!("{}: the fix holds", v.name),
        };
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\">",
            xml_escape(&r.scenario),
            xml_escape(&name)
        );
        if !v.ok {
            let _ = writeln!(
                x,
                "      <failure message=\"{}\"/>",
                xml_escape(&verdict_word(v))
            );
        }
        let _ = writeln!(
            x,
            "      <system-out>{}</system-out>\n    </testcase>",
            xml_escape(&format!("pass rate {}", rate_line(v)))
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// `README.md` for `--out`: one row per scenario.
fn index_markdown(reports: &[ScenarioReport], args: &ReproArgs) -> String {
    let mut s = String::from("# racegate verification reports\n\n");
    let trials = args
        .trials
        .map(|t| format!(" --trials {t}"))
        .unwrap_or_default();
    let quick = if args.quick { " --quick" } else { "" };
    let _ = writeln!(s, "Generated by `racegate repro --all{trials}{quick} --out {}` (from the repository root: `cargo run --release -p racegate -- repro --all{trials}{quick} --out {}`).\n", args.out.as_deref().unwrap_or(Path::new("reports")).display(), args.out.as_deref().unwrap_or(Path::new("reports")).display());
    let _ = writeln!(s, "Each scenario starts the server fresh (free port, new SQLite file) for every trial of every variant. `before` re-introduces the bug with `--inject`; `after` is the fixed server. Pass rates are over every request of every trial, with 95% Wilson intervals.\n");
    let _ = writeln!(
        s,
        "| scenario | before | after | detected | verdict | rerun |\n|---|---|---|---|---|---|"
    );
    for r in reports {
        let cell = |want: Expect| {
            r.variants
                .iter()
                .filter(|v| v.expect == want)
                .map(|v| format!("{}: {}", v.name, rate_line(v)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let detected = r
            .variants
            .iter()
            .filter(|v| v.expect == Expect::Fail)
            .map(|v| format!("{}/{} trials", v.failed_trials, v.trials))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "| [{}]({}/repro.md) | {} | {} | {} | {} | `racegate repro {}` |",
            r.scenario,
            r.scenario,
            or_dash(cell(Expect::Fail)),
            or_dash(cell(Expect::Pass)),
            or_dash(detected),
            if r.ok {
                "✅ as expected"
            } else {
                "❌ not as expected"
            },
            r.file
        );
    }
    let failures: u64 = reports
        .iter()
        .flat_map(|r| &r.variants)
        .flat_map(|v| &v.steps)
        .map(|st| st.failures(FailureKind::Status) + st.failures(FailureKind::Check))
        .sum();
    let _ = writeln!(
        s,
        "\n{} scenarios, {} answered-but-wrong responses caught across all variants.",
        reports.len(),
        failures
    );
    s
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s
    }
}
