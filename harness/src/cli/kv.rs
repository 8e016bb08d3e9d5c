//! `racegate kv`: flags → workload → history check → report files, summary
//! and exit code (0 linearizable and every request answered, 1 otherwise,
//! 2 usage or setup).

use clap::Args;

use super::fire::finish;
use super::flags::{FaultFlags, KvShape, OutputFlags, TargetFlags};
use super::EXIT_USAGE;
use crate::console::{aside, say, warn};
use crate::kv::{self, KvSpec};
use crate::report::history_html;

/// `racegate kv`.
#[derive(Debug, Args)]
pub struct KvArgs {
    /// The service's base URL, and whether it may be remote.
    #[command(flatten)]
    pub target: TargetFlags,
    /// How many operations, how hard.
    #[command(flatten)]
    pub shape: KvShape,
    /// The workload.
    #[command(flatten)]
    pub spec: KvSpec,
    /// What the nemesis breaks.
    #[command(flatten)]
    pub faults: FaultFlags,
    /// What is written.
    #[command(flatten)]
    pub output: OutputFlags,
}

impl KvArgs {
    /// The workload these flags describe, the run shape included.
    pub fn workload(&self) -> KvSpec {
        KvSpec {
            concurrency: self.shape.concurrency,
            requests: self.shape.requests,
            timeout: self.shape.timeout,
            cancel: self.faults.cancel.clone(),
            faults: self.faults.proxy.clone(),
            tls: self.target.tls(),
            http2: self.target.http2(),
            ..self.spec.clone()
        }
    }
}

pub(super) async fn run(args: &KvArgs) -> u8 {
    let url = &args.target.url;
    let run = match kv::run(url, &args.workload(), args.target.allow_remote, None).await {
        Ok(r) => r,
        Err(e) => {
            warn(e);
            return EXIT_USAGE;
        }
    };
    // The history itself, for `racegate history check`; a violation also
    // gets its picture beside the report.
    let mut extra = vec![("history.jsonl", history_jsonl(&run.ops))];
    let wrote_view = match &run.report.history {
        Some(check) if check.counterexample.is_some() => {
            let title = format!("racegate kv {url}");
            extra.push(("history.html", history_html::page(check, &run.ops, &title)));
            true
        }
        _ => false,
    };
    let code = finish(&run.report, &args.output, extra);
    if let (true, Some(dir), false) = (wrote_view, &args.output.out, args.output.quiet) {
        if code != super::EXIT_USAGE {
            let line = format!("history view: {}", dir.join("history.html").display());
            // Off stdout when stdout carries the JSON report.
            if args.output.json {
                aside(&line);
            } else {
                say(&line);
            }
        }
    }
    code
}

/// One operation per line, as `racegate history check` reads them.
fn history_jsonl(ops: &[crate::history::Op]) -> String {
    let mut s = String::with_capacity(ops.len() * 120);
    for op in ops {
        s.push_str(
            &serde_json::to_string(op).unwrap_or_else(|_| unreachable!("an op always serialises")),
        );
        s.push('\n');
    }
    s
}
