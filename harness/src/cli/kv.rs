//! `racegate kv`: flags → workload → history check → report files, summary
//! and exit code (0 linearizable and every request answered, 1 otherwise,
//! 2 usage or setup).

use std::path::PathBuf;

use clap::Args;

use super::fire::finish;
use super::EXIT_USAGE;
use crate::console::{say, warn};
use crate::kv::{self, KvSpec};
use crate::render::history_html;

/// `racegate kv`.
#[derive(Debug, Args)]
pub struct KvArgs {
    /// The service's base URL, e.g. http://127.0.0.1:8080 (loopback unless --allow-remote).
    pub url: String,
    /// The workload.
    #[command(flatten)]
    pub spec: KvSpec,
    /// Write report.json, report.md, junit.xml and, for a violation, history.html here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Allow a target that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    /// No summary.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(super) async fn run(args: &KvArgs) -> u8 {
    let run = match kv::run(&args.url, &args.spec, args.allow_remote).await {
        Ok(r) => r,
        Err(e) => {
            warn(e);
            return EXIT_USAGE;
        }
    };
    if let (Some(dir), Some(check)) = (&args.out, &run.report.history) {
        if check.counterexample.is_some() {
            let page = history_html::page(check, &run.ops, &format!("racegate kv {}", args.url));
            if std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(dir.join("history.html"), page))
                .is_err()
            {
                warn(format_args!(
                    "cannot write {}",
                    dir.join("history.html").display()
                ));
                return EXIT_USAGE;
            }
            if !args.quiet {
                say(&format!(
                    "history view: {}",
                    dir.join("history.html").display()
                ));
            }
        }
    }
    finish(&run.report, args.out.as_deref(), args.quiet)
}
