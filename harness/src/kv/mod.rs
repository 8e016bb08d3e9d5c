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

mod judge;
pub mod spec;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, IF_MATCH, IF_NONE_MATCH};
use hyper::Request;

use crate::check::Checks;
use crate::engine::h2::{H2Client, H2Conn};
use crate::engine::{Client, Exchange, Transport};
use crate::fire::{ensure_listening, fault_proxy, resolve_target, FireError};
use crate::gate::Gate;
use crate::history::sim::Rng;
use crate::history::{self, Op, OpKind, Outcome};
use crate::nemesis::proxy::Dialer;
use crate::nemesis::server::Outage;
use crate::nemesis::FaultsReport;
use crate::outcome::FailureKind;
use crate::report::{LoadInfo, Report, TargetInfo};
use crate::stats::RunStats;

pub use spec::{KvPlan, KvSpec, KvSpecError, Operation, WriteMode};

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
    /// The fault proxy, dialled in-process, with `--fault`.
    via: Option<Dialer>,
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
    let target = resolve_target(base_url, allow_remote, &spec.tls, spec.http2.is_some()).await?;
    ensure_listening(&target, spec.timeout).await?;
    let entropy = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let seed = spec.seed.unwrap_or(entropy);
    let proxy = fault_proxy(target.addr, &spec.faults, seed, spec.timeout);
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
        via: proxy.clone(),
    });
    let addr = target.addr;
    // Over HTTP/2, each connection carries `streams` clients.
    let streams = spec.http2.unwrap_or(1);
    let h2_conns: Vec<_> = (0..spec.http2.map_or(0, |_| spec.concurrency))
        .map(|_| H2Conn::new(addr, target.tls.clone(), proxy.clone(), spec.timeout))
        .collect();
    let workers: Vec<_> = (0..spec.concurrency * streams)
        .map(|w| {
            let shared = Arc::clone(&shared);
            let client = match h2_conns.get(w / streams) {
                Some(conn) => Transport::H2(H2Client::new(Arc::clone(conn), spec.timeout)),
                None => Transport::H1(
                    Client::new(addr, spec.timeout)
                        .with_tls(target.tls.clone())
                        .through(proxy.clone()),
                ),
            };
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
    let plan = &shared.plan;
    let checked = history::check_as(&ops, plan.model(), spec.budget, history::Algorithm::Auto)
        .expect("racegate kv records only operations its model admits");
    let mut report = Report::new(
        TargetInfo {
            method: format!("{}/{}", plan.read.method, plan.write.method),
            url: format!(
                "{base_url} (kv: {} · {})",
                plan.spec.read,
                plan.write_spec()
            ),
            body: Some(plan.spec.write_body.clone()),
            tls: target.tls.as_ref().map(|t| crate::report::TlsInfo {
                insecure: t.insecure(),
            }),
        },
        LoadInfo {
            concurrency: spec.concurrency,
            requests: Some(spec.requests),
            duration_limit_s: None,
            rate: None,
            burst: false,
            timeout_ms: crate::duration::millis(spec.timeout),
            http2: spec.http2.map(|streams| {
                let max = h2_conns.iter().filter_map(|c| c.max_streams()).min();
                crate::report::Http2Info {
                    streams,
                    max_concurrent_streams: max,
                    effective_concurrency: spec.concurrency
                        * max.map_or(streams, |m| m.min(streams)),
                }
            }),
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
        if let Some(proxy) = &proxy {
            faults.add_proxy(&spec.faults, proxy.stop(), None);
        }
        report.set_faults(faults);
    }
    Ok(KvRun { report, ops })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One exchange, timed, and whether the nemesis broke it on purpose.
struct Sent {
    exchange: Exchange,
    invoke: Duration,
    complete: Duration,
    faulted: bool,
}

async fn send(shared: &Shared, client: &mut Transport, req: Request<Bytes>, i: u64) -> Sent {
    let spec = &shared.plan.spec;
    let invoke = shared.start.elapsed();
    let abandon = spec
        .cancel
        .as_ref()
        .and_then(|c| c.decide(shared.seed, i, invoke));
    let mark = shared.outage.as_ref().map(|o| (o, o.mark()));
    let exchange = client
        .send_abandoning(req, shared.authority.to_str().unwrap_or_default(), abandon)
        .await;
    let broken_by_restart = matches!(&exchange, Exchange::Failed { kind, .. } if kind.is_unanswered())
        && (mark.is_some_and(|(o, m)| o.overlapped(m))
            || shared
                .via
                .as_ref()
                .is_some_and(|p| p.broken().is_marked(client.port())));
    let complete = shared.start.elapsed();
    let faulted = broken_by_restart || matches!(exchange, Exchange::Abandoned { .. });
    Sent {
        exchange,
        invoke,
        complete,
        faulted,
    }
}

/// Counts one exchange: its status and latency, and passed, failed or
/// (broken on purpose, never judged) faulted.
fn tally(stats: &mut RunStats, sent: &Sent, failure: judge::Failure, i: u64) {
    if let Exchange::Answered { status, .. } = &sent.exchange {
        stats.record_status(*status);
        let latency = sent.complete - sent.invoke;
        stats.record_latency(latency, latency);
    }
    match failure {
        _ if sent.faulted => stats.fault(),
        None => stats.pass(),
        Some((kind, message)) => {
            let _ = stats.fail(kind, None, i, status_of(&sent.exchange), &message);
        }
    }
}

fn op(key: &str, kind: OpKind, outcome: Outcome, sent: &Sent) -> Op {
    Op {
        key: key.to_owned(),
        kind,
        value: None,
        expected: None,
        text: None,
        invoke_us: micros(sent.invoke),
        complete_us: (outcome != Outcome::Info).then(|| micros(sent.complete)),
        outcome,
    }
}

async fn worker(w: usize, shared: &Shared, mut client: Transport) -> (Vec<Op>, RunStats) {
    let plan = &shared.plan;
    let spec = &plan.spec;
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
        let body = || {
            spec.write_body
                .replace("{key}", &key)
                .replace("{value}", &value.to_string())
        };
        // A read, or the read a compare-and-set starts with.
        let mut read_before = None;
        if !is_write || plan.mode == WriteMode::Cas {
            let sent = send(
                shared,
                &mut client,
                request(shared, &plan.read, &key, None),
                i,
            )
            .await;
            let (seen, failure) = judge::read(&sent.exchange, spec, plan.mode);
            tally(&mut stats, &sent, failure, i);
            let mut read = op(&key, OpKind::Read, Outcome::Fail, &sent);
            if let Some(seen) = &seen {
                read.outcome = Outcome::Ok;
                match seen {
                    judge::Seen::Absent if plan.mode == WriteMode::Append => {
                        read.text = Some(String::new());
                    }
                    judge::Seen::Absent => {}
                    judge::Seen::Value(v) => read.value = Some(*v),
                    judge::Seen::Text(t) => read.text = Some(t.clone()),
                }
            }
            ops.push(read);
            if !is_write || seen.is_none() || sent.faulted {
                continue;
            }
            read_before = Some((seen, sent));
        }
        let mut req = request(shared, &plan.write, &key, Some(body()));
        match plan.mode {
            WriteMode::Set | WriteMode::Append => {
                let sent = send(shared, &mut client, req, i).await;
                let (outcome, failure) = judge::write(&sent.exchange);
                tally(&mut stats, &sent, failure, i);
                let mut write = op(&key, OpKind::Write, outcome, &sent);
                if plan.mode == WriteMode::Set {
                    write.value = Some(value);
                } else {
                    write.kind = OpKind::Append;
                    write.text = Some(crate::history::parse::element(value));
                }
                ops.push(write);
            }
            WriteMode::Cas => {
                let Some((Some(seen), read)) = read_before else {
                    continue;
                };
                let tag = match judge::version(&read.exchange, spec) {
                    Ok(tag) => tag,
                    Err(why) => {
                        let _ = stats.fail(FailureKind::Check, None, i, None, &why);
                        continue;
                    }
                };
                let (name, tag) = match tag {
                    Some(tag) => (IF_MATCH, tag),
                    None => (IF_NONE_MATCH, "*".to_owned()),
                };
                match HeaderValue::from_str(&tag) {
                    Ok(v) => {
                        req.headers_mut().insert(name, v);
                    }
                    Err(_) => {
                        let why = format!("cas: the version {tag:?} cannot be sent as a header");
                        let _ = stats.fail(FailureKind::Check, None, i, None, &why);
                        continue;
                    }
                }
                let sent = send(shared, &mut client, req, i).await;
                let (outcome, failure) = judge::cas(&sent.exchange);
                tally(&mut stats, &sent, failure, i);
                let Some(outcome) = outcome else { continue };
                let mut cas = op(&key, OpKind::Cas, outcome, &sent);
                cas.value = Some(value);
                cas.expected = match seen {
                    judge::Seen::Value(v) => Some(v),
                    _ => None,
                };
                ops.push(cas);
            }
        }
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
