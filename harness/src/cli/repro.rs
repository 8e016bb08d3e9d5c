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

    /// Variants that must fail run every trial, and every request of every
    /// step, instead of stopping at the first detection (slower; gives
    /// detection rates and full timelines).
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
    /// For each variant expected to fail, search the smallest concurrency,
    /// then request count, that still reproduces the bug in ≥ 90% of trials.
    #[arg(long)]
    pub minimize: bool,
    /// Trials per level for --minimize.
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub minimize_trials: u32,
    /// For `git bisect run`: run only the variants expected to pass, against
    /// the tree as it is, and exit 0 good (the checks hold), 1 bad (the bug
    /// is detected), 125 skip (inconclusive, or the server could not be built
    /// or started).
    #[arg(long, conflicts_with_all = ["minimize", "compare"])]
    pub bisect: bool,
    /// Seed of the faults steps inject (`cancel`), shared by every variant and trial (default: random, recorded in each step's report).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Speak this to every scenario's server, whatever its file says: h2 runs every step over HTTP/2 (h2c), C workers as streams, 8 per connection.
    #[arg(long, value_enum)]
    pub protocol: Option<crate::plan::Protocol>,
}

/// `git bisect run`'s exit codes.
const BISECT_GOOD: u8 = 0;
const BISECT_BAD: u8 = 1;
const BISECT_SKIP: u8 = 125;

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
        if self.minimize {
            command.push_str(" --minimize");
        }
        if let Some(out) = &self.out {
            command.push_str(&format!(" --out {}", out.display()));
        }
        if self.protocol == Some(crate::plan::Protocol::H2) {
            command.push_str(" --protocol h2");
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
            minimize: self.minimize.then_some(self.minimize_trials.max(1)),
            only_passing: self.bisect,
            seed: self.seed.unwrap_or_else(crate::nemesis::fresh_seed),
            protocol: self.protocol,
            command,
        }
    }
}

pub(super) async fn run(args: &ReproArgs) -> u8 {
    match crate::repro::run(&args.options()).await {
        Ok(outcome) if args.bisect => bisect_code(&outcome),
        Ok(outcome) => exit_code(&outcome),
        Err(e) => {
            warn(e);
            if args.bisect {
                BISECT_SKIP
            } else {
                EXIT_USAGE
            }
        }
    }
}

/// good when every variant expected to pass passed; bad when one failed;
/// skip when one could not run or stayed inconclusive.
fn bisect_code(outcome: &ReproOutcome) -> u8 {
    use crate::repro::Verdict;
    let verdicts: Vec<Verdict> = outcome
        .reports
        .iter()
        .flat_map(|r| r.variants.iter().map(|v| v.verdict))
        .collect();
    let code = if !outcome.errors.is_empty() || verdicts.is_empty() {
        BISECT_SKIP
    } else if verdicts.iter().any(|v| matches!(v, Verdict::Fail)) {
        BISECT_BAD
    } else if verdicts.iter().all(|v| matches!(v, Verdict::Pass)) {
        BISECT_GOOD
    } else {
        BISECT_SKIP
    };
    say(&format!(
        "repro --bisect: {}",
        match code {
            BISECT_GOOD => "good (the checks hold)",
            BISECT_BAD => "bad (the bug is detected)",
            _ => "skip (inconclusive or could not run)",
        }
    ));
    code
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
