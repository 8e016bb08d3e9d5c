//! `racegate merge`: several runs' `report.json` into one, exactly.

use std::path::PathBuf;

use clap::Args;

use super::fire::finish;
use super::EXIT_USAGE;
use crate::console::warn;
use crate::report::Report;

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

pub(super) fn run(args: &MergeArgs) -> u8 {
    let mut merged: Option<Report> = None;
    for path in &args.reports {
        let report = match Report::read(path) {
            Ok(r) => r,
            Err(e) => {
                warn(e);
                return EXIT_USAGE;
            }
        };
        match &mut merged {
            None => merged = Some(report),
            Some(m) => {
                if let Err(e) = m.merge(&report) {
                    warn(format_args!("{}: {e}", path.display()));
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
