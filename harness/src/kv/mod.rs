//! `racegate kv`: a keyed read/write workload whose every operation is
//! recorded and whose history is checked for linearizability.
//!
//! Each of `-c` clients sends, one after another, reads and writes of keys
//! chosen at random among `--keys` fresh names; every write writes a unique
//! integer, so every read names the write it saw. Each operation's invoke
//! and completion times are taken around the exchange on a monotonic clock.
//! A write answered 2xx is `ok`, 4xx `fail` (not applied), anything else —
//! 5xx, a timeout, a connection lost mid-request — `info`: it may or may not
//! have taken effect. A read answered with the absent status reads "absent";
//! a read that fails says nothing and is left out.
//!
//! The report is a fire report (counts, clusters, latency) plus `history`:
//! the checker's verdict and, for a violation, the counterexample.

pub mod spec;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::Request;

use crate::check::Checks;
use crate::engine::{Client, Exchange};
use crate::fire::{ensure_listening, fault_proxy, resolve_target, FireError};
use crate::gate::Gate;
use crate::history::sim::Rng;
use crate::history::{self, Op, OpKind, Outcome};
use crate::nemesis::proxy::{Broken, Proxy};
use crate::nemesis::server::Outage;
use crate::nemesis::FaultsReport;
use crate::outcome::FailureKind;
use crate::render::text::excerpt;
use crate::report::{LoadInfo, Report, TargetInfo};
use crate::stats::RunStats;

pub use spec::{KvPlan, KvSpec, KvSpecError, Operation};

/// A kv run that could not start (the CLI's exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A bad workload.
    #[error(transparent)]
    Spec(#[from] KvSpecError),
    /// A bad or unreachable target.
    #[error(transparent)]
    Target(#[from] FireError),
}

/// A finished kv run.
#[derive(Debug)]
pub struct KvRun {
    /// The report, with `history`.
    pub report: Report,
    /// Every operation, as recorded.
    pub ops: Vec<Op>,
}

struct Shared {
    plan: KvPlan,
    base_path: String,
    authority: hyper::header::HeaderValue,
    prefix: String,
    seed: u64,
    next: AtomicU64,
    start: Instant,
    outage: Option<Arc<Outage>>,
    broken: Option<Arc<Broken>>,
}

/// Runs the workload against `base_url` (loopback unless `allow_remote`)
/// and checks its history. While `outage` says the server is down (a
/// restart by `racegate repro`), operations that fail to connect, time out
/// or lose their connection are faulted, not judged (a write among them is
/// still an info operation in the history).
pub async fn run(
    base_url: &str,
    spec: &KvSpec,
    allow_remote: bool,
    outage: Option<Arc<Outage>>,
) -> Result<KvRun, KvError> {
    let plan = spec.plan()?;
    let target = resolve_target(base_url, allow_remote).await?;
    ensure_listening(&target, spec.timeout).await?;
    let entropy = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let seed = spec.seed.unwrap_or(entropy);
    let proxy = fault_proxy(target.addr, &spec.faults, seed, spec.timeout).await?;
    let prefix = spec
        .key_prefix
        .clone()
        .unwrap_or_else(|| format!("rg-{:06x}-k", Rng::new(entropy).next_u64() & 0xff_ffff));
    let shared = Arc::new(Shared {
        base_path: target.url.path().trim_end_matches('/').to_owned(),
        authority: target.authority.clone(),
        plan,
        prefix,
        seed,
        next: AtomicU64::new(0),
        start: Instant::now(),
        outage,
        broken: proxy.as_ref().map(Proxy::broken),
    });
    let addr = proxy.as_ref().map_or(target.addr, Proxy::addr);
    let workers: Vec<_> = (0..spec.concurrency)
        .map(|w| {
            let shared = Arc::clone(&shared);
            let client = Client::new(addr, spec.timeout);
            tokio::spawn(async move { worker(w, &shared, client).await })
        })
        .collect();
    let mut stats = RunStats::new(0, false);
    let mut ops = Vec::with_capacity(usize::try_from(spec.requests).unwrap_or(0));
    for w in workers {
        // A worker only ends by finishing; a panic would be a bug in racegate.
        if let Ok((worker_ops, worker_stats)) = w.await {
            ops.extend(worker_ops);
            stats.merge(worker_stats);
        }
    }
    let elapsed = shared.start.elapsed();
    ops.sort_by_key(|op| op.invoke_us);
    let checked = history::check(&ops, spec.budget)
        .expect("racegate kv records only operations its model admits");
    let plan = &shared.plan;
    let mut report = Report::new(
        TargetInfo {
            method: format!("{}/{}", plan.read.method, plan.write.method),
            url: format!("{base_url} (kv: {} · {})", plan.spec.read, plan.spec.write),
            body: Some(plan.spec.write_body.clone()),
        },
        LoadInfo {
            concurrency: spec.concurrency,
            requests: Some(spec.requests),
            duration_limit_s: None,
            rate: None,
            burst: false,
            timeout_ms: crate::duration::millis(spec.timeout),
        },
        Checks::default(),
        Gate::default(),
        stats,
        elapsed.as_secs_f64(),
    );
    report.set_history(checked);
    if spec.cancel.is_some() || proxy.is_some() {
        // A kv run keeps no timeline: its windows are not judged.
        let mut faults = FaultsReport::new(
            seed,
            spec.cancel.as_ref(),
            0,
            crate::nemesis::RECOVERY_FLOOR,
            None,
        );
        if let Some(proxy) = proxy {
            faults.add_proxy(&spec.faults, proxy.stop().await, None);
        }
        report.set_faults(faults);
    }
    Ok(KvRun { report, ops })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

async fn worker(w: usize, shared: &Shared, mut client: Client) -> (Vec<Op>, RunStats) {
    let spec = &shared.plan.spec;
    let mut rng = Rng::new(shared.seed ^ (w as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut ops = Vec::new();
    let mut stats = RunStats::new(0, false);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= spec.requests {
            break;
        }
        let key = format!("{}{}", shared.prefix, rng.below(spec.keys as u64));
        let is_write = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= spec.write_ratio
            && spec.write_ratio > 0.0;
        let value = i + 1;
        let req = if is_write {
            let body = spec
                .write_body
                .replace("{key}", &key)
                .replace("{value}", &value.to_string());
            request(shared, &shared.plan.write, &key, Some(body))
        } else {
            request(shared, &shared.plan.read, &key, None)
        };
        let invoke = shared.start.elapsed();
        let abandon = spec
            .cancel
            .as_ref()
            .and_then(|c| c.decide(shared.seed, i, invoke));
        let mark = shared.outage.as_ref().map(|o| (o, o.mark()));
        let exchange = client.send_abandoning(req, abandon).await;
        let broken_by_restart = matches!(&exchange, Exchange::Failed { kind, .. } if kind.is_unanswered())
            && (mark.is_some_and(|(o, m)| o.overlapped(m))
                || shared
                    .broken
                    .as_ref()
                    .is_some_and(|b| b.is_marked(client.port())));
        let complete = shared.start.elapsed();
        let (outcome, read, failure) = if is_write {
            judge_write(&exchange)
        } else {
            judge_read(&exchange, spec)
        };
        if let Exchange::Answered { status, .. } = &exchange {
            stats.record_status(*status);
            stats.record_latency(complete - invoke, complete - invoke);
        }
        match failure {
            // Broken on purpose: counted apart, never judged.
            _ if matches!(exchange, Exchange::Abandoned { .. }) || broken_by_restart => {
                stats.fault()
            }
            None => stats.pass(),
            Some((kind, message)) => {
                let _ = stats.fail(kind, None, i, status_of(&exchange), &message);
            }
        }
        ops.push(Op {
            key,
            kind: if is_write {
                OpKind::Write
            } else {
                OpKind::Read
            },
            value: if is_write { Some(value) } else { read },
            expected: None,
            text: None,
            invoke_us: micros(invoke),
            complete_us: (outcome != Outcome::Info).then(|| micros(complete)),
            outcome,
        });
    }
    (ops, stats)
}

fn status_of(e: &Exchange) -> Option<u16> {
    match e {
        Exchange::Answered { status, .. } => Some(*status),
        Exchange::Failed { .. } | Exchange::Abandoned { .. } => None,
    }
}

fn request(shared: &Shared, op: &Operation, key: &str, body: Option<String>) -> Request<Bytes> {
    let path = format!("{}{}", shared.base_path, op.path_for(key));
    let body = body.map(Bytes::from);
    let len = body.as_ref().map(Bytes::len);
    let mut req = Request::new(body.unwrap_or_default());
    *req.method_mut() = op.method.clone();
    // A key is checked when the workload is planned to be URL-safe enough;
    // a path hyper refuses falls back to the root, and the answer shows it.
    *req.uri_mut() = path
        .parse()
        .unwrap_or_else(|_| hyper::Uri::from_static("/"));
    let headers = req.headers_mut();
    headers.insert(HOST, shared.authority.clone());
    if let Some(len) = len {
        headers.insert(CONTENT_LENGTH, len.into());
        headers.insert(
            CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
    }
    req
}

type Judged = (Outcome, Option<u64>, Option<(FailureKind, String)>);

/// 2xx ok; 4xx fail (not applied); 5xx, timeouts and lost connections info
/// (perhaps applied); a failed connect never sent anything: fail.
fn judge_write(e: &Exchange) -> Judged {
    match e {
        Exchange::Answered { status, .. } if (200..300).contains(status) => {
            (Outcome::Ok, None, None)
        }
        Exchange::Answered { status, body } => (
            if (400..500).contains(status) {
                Outcome::Fail
            } else {
                Outcome::Info
            },
            None,
            Some((
                FailureKind::Status,
                format!("write: status {status}: {}", excerpt(body, 160)),
            )),
        ),
        Exchange::Failed { kind, message } => (
            if *kind == FailureKind::Connect {
                Outcome::Fail
            } else {
                Outcome::Info
            },
            None,
            Some((*kind, format!("write: {message}"))),
        ),
        // Sent and given up on: it may or may not have taken effect.
        Exchange::Abandoned { .. } => (Outcome::Info, None, None),
    }
}

/// The absent status reads absent; 2xx reads the integer at the pointer;
/// anything else is a failed read (left out of the history).
fn judge_read(e: &Exchange, spec: &KvSpec) -> Judged {
    let fail = |kind, message: String| (Outcome::Fail, None, Some((kind, message)));
    match e {
        Exchange::Answered { status, .. } if *status == spec.absent_status => {
            (Outcome::Ok, None, None)
        }
        Exchange::Answered { status, body } if (200..300).contains(status) => {
            match read_integer(body, &spec.read_value) {
                Ok(v) => (Outcome::Ok, Some(v), None),
                Err(why) => fail(
                    FailureKind::Check,
                    format!("read: {why}: {}", excerpt(body, 120)),
                ),
            }
        }
        Exchange::Answered { status, body } => fail(
            FailureKind::Status,
            format!("read: status {status}: {}", excerpt(body, 160)),
        ),
        Exchange::Failed { kind, message } => fail(*kind, format!("read: {message}")),
        // Given up on: it says nothing, like a failed read.
        Exchange::Abandoned { .. } => (Outcome::Fail, None, None),
    }
}

fn read_integer(body: &[u8], pointer: &str) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let found = v
        .pointer(pointer)
        .ok_or_else(|| format!("no value at {pointer}"))?;
    match found {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("the value at {pointer} is {found}, not a written integer"))
}
