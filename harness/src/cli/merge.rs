//! `racegate merge`: several runs' reports into one, exactly — from files,
//! directories, or a stream of JSON documents on stdin (`kubectl logs -l
//! job-name=… | racegate merge -`), gated with fire's flags.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::fire::finish;
use super::flags::{GateFlags, OutputFlags};
use super::EXIT_USAGE;
use crate::console::warn;
use crate::report::Report;

/// `racegate merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// report.json files, directories holding them (searched two levels
    /// deep), or - for JSON reports on stdin, one per line (other lines are
    /// skipped, so pod logs can be piped in whole).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// What passes (unset: the runs' own thresholds).
    #[command(flatten)]
    pub gate: GateFlags,
    /// What is written.
    #[command(flatten)]
    pub output: OutputFlags,
}

/// Where a report came from, for messages.
struct Input {
    origin: String,
    report: Report,
}

fn read_inputs(args: &MergeArgs) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    for path in &args.reports {
        if path.as_os_str() == "-" {
            let stdin = std::io::stdin();
            for (n, line) in stdin.lock().lines().enumerate() {
                let line = line.map_err(|e| format!("stdin: {e}"))?;
                let line = line.trim();
                // Pod logs carry the summary lines too: only JSON objects count.
                if !line.starts_with('{') {
                    continue;
                }
                let report: Report = serde_json::from_str(line)
                    .map_err(|e| format!("stdin line {}: not a racegate report: {e}", n + 1))?;
                inputs.push(Input {
                    origin: format!("stdin line {}", n + 1),
                    report,
                });
            }
        } else if path.is_dir() {
            let mut files = Vec::new();
            collect(path, 2, &mut files);
            if files.is_empty() {
                return Err(format!("{}: no report.json in it", path.display()));
            }
            for f in files {
                let report = Report::read(&f).map_err(|e| e.to_string())?;
                inputs.push(Input {
                    origin: f.display().to_string(),
                    report,
                });
            }
        } else {
            let report = Report::read(path).map_err(|e| e.to_string())?;
            inputs.push(Input {
                origin: path.display().to_string(),
                report,
            });
        }
    }
    if inputs.is_empty() {
        return Err("no reports to merge".into());
    }
    Ok(inputs)
}

/// `report.json` files at most `depth` directories below `dir`, sorted.
fn collect(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() && depth > 0 {
            collect(&p, depth - 1, out);
        } else if p.file_name().is_some_and(|n| n == "report.json") {
            out.push(p);
        }
    }
}

/// Warnings about the shards: several run ids, shard counts that disagree,
/// missing or duplicate shards.
fn shard_warnings(inputs: &[Input]) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut runs: BTreeMap<&str, Vec<(u32, u32, &str)>> = BTreeMap::new();
    for i in inputs {
        if let Some(s) = &i.report.shard {
            runs.entry(s.run_id.as_str())
                .or_default()
                .push((s.index, s.count, i.origin.as_str()));
        }
    }
    if runs.len() > 1 {
        warnings.push(format!(
            "reports of {} different runs merged: {}",
            runs.len(),
            runs.keys()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (run, shards) in &runs {
        let counts: std::collections::BTreeSet<u32> = shards.iter().map(|s| s.1).collect();
        if counts.len() > 1 {
            warnings.push(format!("run {run:?}: shard counts disagree: {counts:?}"));
            continue;
        }
        let count = counts.into_iter().next().unwrap_or(1);
        let mut seen: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for (index, _, origin) in shards {
            seen.entry(*index).or_default().push(origin);
        }
        for (index, origins) in &seen {
            if origins.len() > 1 {
                warnings.push(format!(
                    "run {run:?}: shard {index}/{count} appears {} times ({}); its requests are counted twice",
                    origins.len(),
                    origins.join(", ")
                ));
            }
        }
        let missing: Vec<String> = (0..count)
            .filter(|i| !seen.contains_key(i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "run {run:?}: missing shard(s) {}; the merged run is partial",
                missing.join(", ")
            ));
        }
    }
    warnings
}

/// Merges and gates; exit 0 passed, 1 failed, 2 unreadable or unmergeable.
pub(super) fn run(args: &MergeArgs) -> u8 {
    let inputs = match read_inputs(args) {
        Ok(i) => i,
        Err(e) => {
            warn(e);
            return EXIT_USAGE;
        }
    };
    for w in shard_warnings(&inputs) {
        warn(format_args!("warning: {w}"));
    }
    let mut iter = inputs.into_iter();
    let Some(first) = iter.next() else {
        return EXIT_USAGE;
    };
    let mut merged = first.report;
    for input in iter {
        if let Err(e) = merged.merge(&input.report) {
            warn(format_args!("{}: {e}", input.origin));
            return EXIT_USAGE;
        }
    }
    merged.shard = None;
    merged.regate(args.gate.over(merged.gate.gate));
    finish(&merged, &args.output, Vec::new())
}
