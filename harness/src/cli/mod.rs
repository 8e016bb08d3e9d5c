//! The command line: `racegate fire`, `racegate kv`, `racegate repro`,
//! `racegate merge`, `racegate history check`, `racegate proxy` (and
//! `racegate server` when the reference server is built in). Parses
//! flags into the library's types, runs them, and maps outcomes to exit
//! codes: 0 passed, 1 failed, 2 usage or setup error.

mod fire;
pub mod flags;
mod history;
mod kv;
mod merge;
mod proxy;
mod repro;

use clap::{Parser, Subcommand};

use crate::console::warn;

pub use fire::FireArgs;
pub use history::HistoryArgs;
pub use kv::KvArgs;
pub use merge::MergeArgs;
pub use proxy::ProxyArgs;
pub use repro::ReproArgs;

/// Exit code: the gate passed (or every scenario was as expected).
pub const EXIT_PASS: u8 = 0;
/// Exit code: the gate failed (or a scenario was not as expected).
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
    Repro(ReproArgs),
    /// Keyed reads and writes, every operation recorded, the history checked for linearizability.
    Kv(Box<KvArgs>),
    /// Merge report.json files from several runs into one, exactly.
    Merge(MergeArgs),
    /// Check a recorded history (racegate's, or Jepsen's) for linearizability, offline.
    History(HistoryArgs),
    /// A fault proxy in front of any client: latency, resets, stalls, slices, bandwidth, closes.
    Proxy(ProxyArgs),
    /// Run racegate's reference chat server (the same as `racegate-server`).
    #[cfg(feature = "reference-server")]
    Server(Box<racegate_server::ServerConfig>),
}

impl Command {
    /// Whether this command sets up its own logging (the server does).
    pub fn logs_itself(&self) -> bool {
        #[cfg(feature = "reference-server")]
        if let Command::Server(_) = self {
            return true;
        }
        false
    }
}

/// Runs the CLI and returns the exit code.
pub fn run(cli: Cli) -> u8 {
    let command = match cli.command {
        #[cfg(feature = "reference-server")]
        // The server builds its own runtimes.
        Command::Server(config) => return racegate_server::run_cli(&config),
        Command::Merge(args) => return merge::run(&args),
        Command::History(args) => return history::run(&args),
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            warn(format_args!("cannot start the runtime: {e}"));
            return EXIT_USAGE;
        }
    };
    match command {
        Command::Fire(args) => runtime.block_on(fire::run(&args)),
        Command::Repro(args) => runtime.block_on(repro::run(&args)),
        Command::Kv(args) => runtime.block_on(kv::run(&args)),
        Command::Proxy(args) => runtime.block_on(proxy::run(&args)),
        _ => unreachable!("handled above"),
    }
}
