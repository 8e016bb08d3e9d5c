//! `racegate history check FILE`: a recorded history, from racegate or
//! from Jepsen, checked offline with the checker `racegate kv` uses live.
//! Exit 0 linearizable, 1 a violation or unknown, 2 unreadable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::console::{say, warn};
use crate::duration::parse_duration;
use crate::history::{self, parse, Algorithm, Model, Verdict};
use crate::render::files::write_pages;
use crate::report::{history_html, history_lines};

/// `racegate history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// What to do with the history.
    #[command(subcommand)]
    pub command: HistoryCommand,
}

/// The `history` subcommands.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Check a recorded history for linearizability.
    Check(CheckArgs),
}

/// `racegate history check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: racegate's JSON lines (kv --out writes history.jsonl), jepsen.util log lines, or Jepsen EDN operation maps.
    pub file: PathBuf,
    /// The model: register, cas-register or append [default: inferred from the operations].
    #[arg(long, value_parser = parse_model)]
    pub model: Option<Model>,
    /// Longest the check may take; past it the verdict is "unknown".
    #[arg(long, default_value = crate::kv::spec::BUDGET, value_parser = parse_duration)]
    pub budget: Duration,
    /// Write check.json and history.html here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the check as one line of JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No summary.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_model(name: &str) -> Result<Model, String> {
    Model::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
        format!("unknown model {name:?}: one of {}", names.join(", "))
    })
}

pub(super) fn run(args: &HistoryArgs) -> u8 {
    match &args.command {
        HistoryCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> u8 {
    let file = args.file.display();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            warn(format_args!("cannot read {file}: {e}"));
            return EXIT_USAGE;
        }
    };
    let (ops, clocked) = match parse::parse(&text) {
        Ok(p) => (p.ops, p.clocked),
        Err(e) => {
            warn(format_args!("{file}: {e}"));
            return EXIT_USAGE;
        }
    };
    if ops.is_empty() {
        warn(format_args!("{file}: no operations in it"));
        return EXIT_USAGE;
    }
    let model = args.model.unwrap_or_else(|| Model::infer(&ops));
    let checked = match history::check_as(&ops, model, args.budget, Algorithm::Auto) {
        Ok(c) => c,
        Err(e) => {
            warn(format_args!("{file}: {e}"));
            return EXIT_USAGE;
        }
    };
    let json = serde_json::to_string(&checked)
        .unwrap_or_else(|_| unreachable!("the check always serialises"));
    if let Some(dir) = &args.out {
        let title = format!("racegate history check {file}");
        let pages = [
            ("check.json", json.clone()),
            ("history.html", history_html::page(&checked, &ops, &title)),
        ];
        if let Err(e) = write_pages(dir, pages) {
            warn(e);
            return EXIT_USAGE;
        }
    }
    if args.json {
        println!("{json}");
    }
    if !args.quiet {
        let clock = if clocked {
            ""
        } else {
            " (Jepsen's lines carry no clock: times are line numbers, shown as µs)"
        };
        let summary = format!(
            "{file}: {} model{clock}\n{}",
            model.name(),
            history_lines(&checked)
        );
        let mut lines = summary.trim_end().to_owned();
        if let Some(c) = &checked.counterexample {
            for op in &c.ops {
                lines.push_str(&format!("\n    {}", describe(op, clocked)));
            }
        }
        if args.json {
            crate::console::aside(&lines);
        } else {
            say(&lines);
        }
    }
    match checked.verdict {
        Verdict::Linearizable => EXIT_PASS,
        Verdict::Violation | Verdict::Unknown => EXIT_FAIL,
    }
}

/// One counterexample operation on a line: what, when, how it ended.
fn describe(op: &history::Op, clocked: bool) -> String {
    let at = |t: u64| {
        if clocked {
            format!("{:.3} ms", t as f64 / 1000.0)
        } else {
            format!("line {t}")
        }
    };
    let when = match op.complete_us {
        Some(done) => format!("{} – {}", at(op.invoke_us), at(done)),
        None => format!("{}, never completed", at(op.invoke_us)),
    };
    let outcome = match op.outcome {
        // A compare-and-set says how it ended itself.
        _ if op.kind == history::OpKind::Cas => "",
        history::Outcome::Ok => "",
        history::Outcome::Fail => " [fail]",
        history::Outcome::Info => " [outcome unknown]",
    };
    format!("{when}: {}{outcome}", op.describe())
}
