//! `racegate repro`: run scenario files against each variant of a server (the
//! buggy build and the fixed one), trial after trial, each on a free port with
//! a fresh database; then say, with pass rates and intervals, whether the bug
//! is detected — with its declared symptom — and whether the fix holds.
//!
//! - [`server`]: the server process, from start to kill.
//! - `trial`: one variant's trials and steps; `nemesis`: a step's server
//!   fault (pause, restart), carried out while it runs.
//! - [`verdict`]: the report model and the rule from trials to a verdict.
//! - [`render`]: the terminal table, `repro.md`, `report.html`, `junit.xml`
//!   and the index, one file each.
//!
//! [`run`] returns a [`ReproOutcome`]; the CLI maps it to an exit code.

pub mod certs;
mod compare;
mod evidence;
mod minimize;
mod nemesis;
pub mod render;
pub mod server;
mod trial;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::console::{say, warn};
use crate::scenario::{Expect, Scenario, ScenarioError};

use server::ServerError;
use trial::TrialBudget;
pub use verdict::{ScenarioReport, VariantReport, Verdict, SCHEMA_VERSION};

/// What to run, and how.
#[derive(Clone, Debug)]
pub struct ReproOptions {
    /// Scenario files.
    pub scenarios: Vec<PathBuf>,
    /// Also every `*.toml` in `dir`.
    pub all: bool,
    /// Where `all` looks.
    pub dir: PathBuf,
    /// Trials per variant (default: the scenario's).
    pub trials: Option<u32>,
    /// The most trials a variant expected to pass may get while its interval
    /// is short of the confidence floor.
    pub max_trials: u32,
    /// One trial for variants expected to fail.
    pub quick: bool,
    /// Variants expected to fail run every trial instead of stopping at the
    /// first detection (for detection rates).
    pub all_trials: bool,
    /// Write reports here.
    pub out: Option<PathBuf>,
    /// Keep databases and logs here instead of a temporary directory.
    pub work_dir: Option<PathBuf>,
    /// Only the verdict lines.
    pub quiet: bool,
    /// Committed reports whose verdicts and symptoms the run must repeat.
    pub compare: Option<PathBuf>,
    /// For variants expected to fail: search the smallest reproduction,
    /// with this many trials per level.
    pub minimize: Option<u32>,
    /// Run only the variants expected to pass (for `git bisect run`).
    pub only_passing: bool,
    /// The seed of every fault the scenarios inject.
    pub seed: u64,
    /// Speak this protocol to every scenario's server, whatever its file
    /// says.
    pub protocol: Option<crate::plan::Protocol>,
    /// The command line, for the index of `out`.
    pub command: String,
}

impl Default for ReproOptions {
    fn default() -> Self {
        Self {
            scenarios: Vec::new(),
            all: false,
            dir: PathBuf::from("scenarios"),
            trials: None,
            max_trials: 20,
            quick: false,
            all_trials: false,
            out: None,
            work_dir: None,
            quiet: false,
            compare: None,
            minimize: None,
            only_passing: false,
            seed: crate::nemesis::fresh_seed(),
            protocol: None,
            command: "racegate repro".into(),
        }
    }
}

/// A scenario could not be run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    /// Nothing to run.
    #[error("name scenario files, or --all to run every one in {}", .0.display())]
    NoScenarios(PathBuf),
    /// The scenario directory cannot be read or holds none.
    #[error("cannot read scenario directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Bad file.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The server could not be started, made ready, or stopped.
    #[error("{scenario} / {variant}: {source}")]
    Server {
        /// Scenario name.
        scenario: String,
        /// Variant name.
        variant: String,
        /// What happened, with the end of the server's log.
        source: Box<ServerError>,
    },
    /// A fire step could not start.
    #[error("{scenario} / {variant} / {step}: {source}")]
    Fire {
        /// Scenario name.
        scenario: String,
        /// Variant name.
        variant: String,
        /// Step name.
        step: String,
        /// Why.
        source: Box<crate::fire::FireError>,
    },
    /// A kv step could not start.
    #[error("{scenario} / {variant} / {step}: {source}")]
    Kv {
        /// Scenario name.
        scenario: String,
        /// Variant name.
        variant: String,
        /// Step name.
        step: String,
        /// Why.
        source: Box<crate::kv::KvError>,
    },
    /// A step was over before its server fault was due: the scenario did
    /// not do what it says.
    #[error(
        "{scenario} / {variant} / {step}: the {fault} due at {due_ms} ms was not carried out: \
         the step was over at {ended_ms} ms; make it due earlier, or give the step more requests"
    )]
    FaultNotDue {
        /// Scenario name.
        scenario: String,
        /// Variant name.
        variant: String,
        /// Step name.
        step: String,
        /// `pause` or `restart KILL`.
        fault: String,
        /// When it was due, ms from the step's start.
        due_ms: u64,
        /// When the step was over.
        ended_ms: u64,
    },
    /// Two trials' reports would not merge (a bug in racegate).
    #[error("{scenario}: {source}")]
    Merge {
        /// Scenario name.
        scenario: String,
        /// Why.
        source: crate::report::ReportError,
    },
    /// Local I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A report file could not be written.
    #[error(transparent)]
    Write(#[from] crate::render::files::WriteError),
    /// Ctrl-C.
    #[error("interrupted; servers stopped")]
    Interrupted,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct ReproOutcome {
    /// One report per scenario that ran.
    pub reports: Vec<ScenarioReport>,
    /// Scenarios that could not run.
    pub errors: Vec<ReproError>,
    /// With `compare`: where the run disagrees with the committed reports.
    pub differences: Vec<String>,
}

impl ReproOutcome {
    /// `scenario / variant` for every variant whose verdict is not the
    /// expected one.
    pub fn not_as_expected(&self) -> Vec<String> {
        self.reports
            .iter()
            .flat_map(|r| {
                r.variants
                    .iter()
                    .filter(|v| !v.ok)
                    .map(move |v| format!("{} / {}", r.scenario, v.name))
            })
            .collect()
    }
}

/// Runs the scenarios, printing each one's table as it finishes. Errors
/// that stop everything (no scenarios, a bad file, Ctrl-C) are `Err`; a
/// scenario whose server cannot start is kept in the outcome and the others
/// still run.
pub async fn run(opts: &ReproOptions) -> Result<ReproOutcome, ReproError> {
    let mut paths = opts.scenarios.clone();
    if opts.all {
        paths.extend(scenario_files(&opts.dir)?);
    }
    if paths.is_empty() {
        return Err(ReproError::NoScenarios(opts.dir.clone()));
    }
    let mut scenarios = paths
        .iter()
        .map(|p| Scenario::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(protocol) = opts.protocol {
        for s in &mut scenarios {
            s.server.protocol = protocol;
        }
    }
    if !cfg!(feature = "reference-server") {
        if let Some(s) = scenarios.iter().find(|s| s.server.reference) {
            return Err(ReproError::Server {
                scenario: s.name(),
                variant: "*".into(),
                source: Box::new(ServerError::NoReferenceServer),
            });
        }
    }
    let scratch = match &opts.work_dir {
        Some(dir) => std::fs::create_dir_all(dir).map(|()| Scratch::Kept(dir.clone())),
        None => tempfile::Builder::new()
            .prefix("racegate-repro-")
            .tempdir()
            .map(Scratch::Temp),
    }
    .map_err(|source| ReproError::Io {
        path: opts.work_dir.clone().unwrap_or_else(std::env::temp_dir),
        source,
    })?;
    tokio::select! {
        outcome = run_all(&scenarios, opts, scratch.path()) => outcome,
        // Dropping the run drops every ServerProcess, which kills it.
        _ = tokio::signal::ctrl_c() => Err(ReproError::Interrupted),
    }
}

async fn run_all(
    scenarios: &[Scenario],
    opts: &ReproOptions,
    scratch: &Path,
) -> Result<ReproOutcome, ReproError> {
    let mut outcome = ReproOutcome::default();
    for scenario in scenarios {
        match run_scenario(scenario, opts, scratch).await {
            Ok(report) => {
                say(&render::terminal::table(&report, opts.quiet));
                if let Some(out) = &opts.out {
                    render::write_scenario(&report, out)?;
                }
                if let Some(committed) = &opts.compare {
                    outcome
                        .differences
                        .extend(compare::differences(&report, committed));
                }
                outcome.reports.push(report);
            }
            Err(e) => {
                warn(&e);
                outcome.errors.push(e);
            }
        }
    }
    if let Some(out) = &opts.out {
        render::write_index(&outcome.reports, &opts.command, out)?;
    }
    Ok(outcome)
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

fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, ReproError> {
    let dir_err = |source| ReproError::Dir {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(dir_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(dir_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no *.toml scenarios in it",
        )));
    }
    Ok(files)
}

async fn run_scenario(
    scenario: &Scenario,
    opts: &ReproOptions,
    scratch: &Path,
) -> Result<ScenarioReport, ReproError> {
    let started = Instant::now();
    let mut variants = Vec::new();
    for (name, variant) in &scenario.variants {
        if opts.only_passing && variant.expect != Expect::Pass {
            continue;
        }
        let base = opts.trials.unwrap_or(scenario.trials);
        let budget = TrialBudget {
            base: match (opts.quick, variant.expect) {
                (true, Expect::Fail) => 1,
                _ => base,
            },
            max: opts.max_trials.max(base),
            stop_at_detection: !opts.all_trials,
            // `--all-trials` measures everything: every request of every step.
            halt_at_detection: !opts.all_trials,
            verbose: !opts.quiet,
            seed: opts.seed,
        };
        let trials = trial::run_variant(scenario, name, variant, budget, scratch).await?;
        let detecting_step = trials.detecting_step;
        let mut report = VariantReport::judge(
            name,
            variant.expect,
            variant.symptom().cloned(),
            &scenario.verdict,
            trials,
        );
        if let (Some(k), Some(step), Verdict::Fail) =
            (opts.minimize, detecting_step, report.verdict)
        {
            report.minimal =
                minimize::minimize(scenario, name, variant, step, k, budget, scratch).await?;
        }
        variants.push(report);
    }
    Ok(ScenarioReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("racegate {}", env!("CARGO_PKG_VERSION")),
        scenario: scenario.name(),
        file: scenario.path.display().to_string(),
        title: scenario.title.clone(),
        summary: scenario.summary.trim().to_owned(),
        verdict_spec: scenario.verdict,
        ok: variants.iter().all(|v| v.ok),
        variants,
        duration_s: started.elapsed().as_secs_f64(),
    })
}
