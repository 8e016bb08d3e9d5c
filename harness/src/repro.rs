//! `racegate repro`: run scenario files against a buggy and a fixed build.

use clap::Args;
use std::path::PathBuf;

/// `racegate repro`.
#[derive(Debug, Args)]
pub struct ReproArgs {
    /// Scenario files.
    pub scenarios: Vec<PathBuf>,
}

/// Runs the scenarios and returns the exit code.
pub async fn run(_args: &ReproArgs) -> u8 {
    eprintln!("racegate: repro is not built yet");
    crate::cli::EXIT_USAGE
}
