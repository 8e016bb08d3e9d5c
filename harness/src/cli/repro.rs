//! `racegate repro`: flags → [`ReproOptions`] → outcome → exit code.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::console::{say, warn};
use crate::repro::{ReproOptions, ReproOutcome};

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
    /// Most trials a variant expected to pass gets while its 95% interval is
    /// short of the confidence floor (trials are added one at a time).
    #[arg(long, default_value_t = 20)]
    pub max_trials: u32,
    /// CI mode: one trial for variants that must fail (one detection shows
    /// the bug), the full count for variants that must pass.
    #[arg(long)]
    pub quick: bool,
    /// Variants that must fail run every trial instead of stopping at the
    /// first detection (slower; gives detection rates).
    #[arg(long)]
    pub all_trials: bool,
    /// Write repro.json, repro.md and junit.xml per scenario here, plus an
    /// index README.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep servers' databases and logs here instead of a temporary directory.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Only the verdict lines (and what went wrong, when it did).
    #[arg(short, long)]
    pub quiet: bool,
    /// Committed reports (e.g. reports/) whose verdicts and symptoms this run
    /// must repeat; any difference fails the run. Numbers may differ.
    #[arg(long, value_name = "DIR")]
    pub compare: Option<PathBuf>,
}

impl ReproArgs {
    fn options(&self) -> ReproOptions {
        let mut command = String::from("racegate repro");
        if self.all {
            command.push_str(" --all");
        }
        for s in &self.scenarios {
            command.push_str(&format!(" {}", s.display()));
        }
        if let Some(t) = self.trials {
            command.push_str(&format!(" --trials {t}"));
        }
        if self.quick {
            command.push_str(" --quick");
        }
        if self.all_trials {
            command.push_str(" --all-trials");
        }
        if let Some(out) = &self.out {
            command.push_str(&format!(" --out {}", out.display()));
        }
        ReproOptions {
            scenarios: self.scenarios.clone(),
            all: self.all,
            dir: self.dir.clone(),
            trials: self.trials,
            max_trials: self.max_trials,
            quick: self.quick,
            all_trials: self.all_trials,
            out: self.out.clone(),
            work_dir: self.work_dir.clone(),
            quiet: self.quiet,
            compare: self.compare.clone(),
            command,
        }
    }
}

pub(super) async fn run(args: &ReproArgs) -> u8 {
    match crate::repro::run(&args.options()).await {
        Ok(outcome) => exit_code(&outcome),
        Err(e) => {
            warn(e);
            EXIT_USAGE
        }
    }
}

/// 2 if a scenario could not run; 1 if a variant was not as expected; else 0.
fn exit_code(outcome: &ReproOutcome) -> u8 {
    if !outcome.errors.is_empty() {
        return EXIT_USAGE;
    }
    if !outcome.differences.is_empty() {
        say(&format!(
            "repro: verdicts differ from the committed reports:\n  {}",
            outcome.differences.join("\n  ")
        ));
        return EXIT_FAIL;
    }
    let wrong = outcome.not_as_expected();
    if wrong.is_empty() {
        if outcome.reports.len() > 1 {
            say(&format!("repro: all {} scenarios as expected: every fixed variant passes, every injected bug is detected with its symptom", outcome.reports.len()));
        }
        EXIT_PASS
    } else {
        say(&format!("repro: not as expected: {}", wrong.join(", ")));
        EXIT_FAIL
    }
}
