//! The load engine: C workers, each with one kept-alive HTTP/1.1 connection,
//! sending requests in a closed loop, at a fixed rate (open loop), or in
//! barrier-synchronised bursts, and judging every response.
//!
//! Every wait is bounded: connects and requests by the request timeout, a
//! run by its count or duration, a burst round by the slowest request in it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::Instant;

use crate::check::FailureKind;
use crate::fire::{FireConfig, Stop};
use crate::stats::RunStats;

/// The largest response body read; longer ones fail as `indeterminate`.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Live counters, read by the progress display while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests finished (passed or failed).
    pub done: AtomicU64,
    /// Requests failed.
    pub failed: AtomicU64,
}

/// Hands out request indices and says when the run is over.
struct Schedule {
    next: AtomicU64,
    stop: Stop,
    start: Instant,
    /// Time between intended sends, with `--rate`.
    interval: Option<Duration>,
}

impl Schedule {
    /// The next request's index and intended send time, or `None` when the
    /// run is over.
    fn next(&self) -> Option<(u64, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let intended = match self.interval {
            Some(gap) => self.start + gap.mul_f64(i as f64),
            None => Instant::now(),
        };
        let over = match self.stop {
            Stop::Requests(n) => i >= n,
            Stop::Duration(d) => intended >= self.start + d,
        };
        (!over).then_some((i, intended))
    }
}

/// Shared by the workers of a burst run.
struct Burst {
    barrier: Barrier,
    /// Requests in the current round, decided by the barrier leader.
    round_size: AtomicUsize,
    rounds: AtomicU64,
}

/// Runs the load described by `config` and returns the merged tallies and
/// the time the run took.
pub async fn run(config: Arc<FireConfig>, progress: Arc<Progress>) -> (RunStats, Duration) {
    let start = Instant::now();
    let schedule = Arc::new(Schedule {
        next: AtomicU64::new(0),
        stop: config.stop,
        start,
        interval: config.rate.map(|r| Duration::from_secs_f64(1.0 / r)),
    });
    let burst = config.burst.then(|| {
        Arc::new(Burst {
            barrier: Barrier::new(config.concurrency),
            round_size: AtomicUsize::new(0),
            rounds: AtomicU64::new(0),
        })
    });
    let headers = Arc::new(base_headers(&config));
    let workers: Vec<_> = (0..config.concurrency)
        .map(|id| {
            let worker = Worker {
                id,
                config: Arc::clone(&config),
                headers: Arc::clone(&headers),
                progress: Arc::clone(&progress),
                stats: RunStats::new(config.checks.body.len(), config.rate.is_some()),
                conn: None,
            };
            let schedule = Arc::clone(&schedule);
            let burst = burst.clone();
            tokio::spawn(async move {
                match burst {
                    Some(burst) => worker.run_bursts(&burst, start).await,
                    None => worker.run(&schedule).await,
                }
            })
        })
        .collect();
    let mut total = RunStats::new(config.checks.body.len(), config.rate.is_some());
    for w in workers {
        // A worker only ends by finishing; a panic would be a bug in racegate.
        if let Ok(stats) = w.await {
            total.merge(stats);
        }
    }
    (total, start.elapsed())
}

fn base_headers(config: &FireConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, config.target.authority.clone());
    for (name, value) in &config.request.headers {
        headers.append(name.clone(), value.clone());
    }
    if let Some(body) = &config.request.body {
        if !headers.contains_key(CONTENT_TYPE) {
            let ct = if body.looks_like_json() {
                "application/json"
            } else {
                "application/octet-stream"
            };
            headers.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(ct));
        }
    }
    headers
}

struct Worker {
    id: usize,
    config: Arc<FireConfig>,
    headers: Arc<HeaderMap>,
    progress: Arc<Progress>,
    stats: RunStats,
    conn: Option<SendRequest<Full<Bytes>>>,
}

/// How one request ended, before judging.
enum Exchange {
    Answered { status: u16, body: Bytes },
    Failed { kind: FailureKind, message: String },
}

impl Worker {
    async fn run(mut self, schedule: &Schedule) -> RunStats {
        while let Some((index, intended)) = schedule.next() {
            if schedule.interval.is_some() {
                tokio::time::sleep_until(intended).await;
            }
            self.request(index, intended).await;
        }
        self.stats
    }

    /// Burst mode: every round, all workers meet at a barrier, the leader
    /// decides how many requests the round carries, and they are sent
    /// together. Connections are opened before the first round so that
    /// connecting does not spread the sends out.
    async fn run_bursts(mut self, burst: &Burst, start: Instant) -> RunStats {
        let _ = self.ensure_connected().await;
        let c = self.config.concurrency as u64;
        loop {
            if burst.barrier.wait().await.is_leader() {
                let round = burst.rounds.fetch_add(1, Ordering::Relaxed);
                let size = match self.config.stop {
                    Stop::Requests(n) => n.saturating_sub(round * c).min(c),
                    Stop::Duration(d) if start.elapsed() < d => c,
                    Stop::Duration(_) => 0,
                };
                burst.round_size.store(size as usize, Ordering::Release);
            }
            burst.barrier.wait().await;
            let size = burst.round_size.load(Ordering::Acquire);
            if size == 0 {
                break;
            }
            if self.id < size {
                let round = burst.rounds.load(Ordering::Relaxed) - 1;
                self.request(round * c + self.id as u64, Instant::now())
                    .await;
            }
        }
        self.stats
    }

    async fn ensure_connected(&mut self) -> Result<(), String> {
        if let Some(conn) = &mut self.conn {
            // A kept-alive connection the server closed is not a failure:
            // the request was never sent, so reconnect.
            if conn.ready().await.is_ok() {
                return Ok(());
            }
            self.conn = None;
        }
        let conn = connect(self.config.target.addr, self.config.timeout).await?;
        self.conn = Some(conn);
        Ok(())
    }

    async fn request(&mut self, index: u64, intended: Instant) {
        let exchange = match self.ensure_connected().await {
            Err(message) => Exchange::Failed {
                kind: FailureKind::Connect,
                message,
            },
            Ok(()) => {
                let sent = Instant::now();
                let exchange = self.exchange(index).await;
                if let Exchange::Answered { .. } = exchange {
                    let now = Instant::now();
                    self.stats.record_latency(now - intended, now - sent);
                }
                exchange
            }
        };
        let failed = match exchange {
            Exchange::Answered { status, body } => {
                self.stats.record_status(status);
                match self.config.checks.judge(status, &body) {
                    Ok(()) => {
                        self.stats.pass();
                        false
                    }
                    Err(v) => {
                        self.stats
                            .fail(v.kind, v.check, index, Some(status), &v.message);
                        true
                    }
                }
            }
            Exchange::Failed { kind, message } => {
                self.stats.fail(kind, None, index, None, &message);
                true
            }
        };
        self.progress.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.progress.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn exchange(&mut self, index: u64) -> Exchange {
        let Some(conn) = self.conn.as_mut() else {
            return Exchange::Failed {
                kind: FailureKind::Connect,
                message: "no connection".into(),
            };
        };
        let body = self
            .config
            .request
            .body
            .as_ref()
            .map_or_else(Bytes::new, |t| t.render(index, self.id));
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = self.config.request.method.clone();
        *req.uri_mut() = self.config.target.uri.clone();
        *req.headers_mut() = (*self.headers).clone();
        if self.config.request.body.is_some() {
            req.headers_mut().insert(CONTENT_LENGTH, body.len().into());
        }
        let timeout = self.config.timeout;
        let result = tokio::time::timeout(timeout, async {
            let resp = conn.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(BodyError)?
                .to_bytes();
            Ok::<_, ExchangeError>((status, body))
        })
        .await;
        match result {
            Ok(Ok((status, body))) => Exchange::Answered { status, body },
            Ok(Err(e)) => {
                self.conn = None;
                Exchange::Failed {
                    kind: FailureKind::Indeterminate,
                    message: e.to_string(),
                }
            }
            Err(_) => {
                // The connection's state is unknown: never reuse it.
                self.conn = None;
                Exchange::Failed {
                    kind: FailureKind::Timeout,
                    message: format!("no complete answer within {timeout:?}"),
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error("{}", describe_hyper(.0))]
    Hyper(#[from] hyper::Error),
    #[error(transparent)]
    Body(#[from] BodyError),
}

#[derive(Debug, thiserror::Error)]
#[error("response body unreadable: {0}")]
struct BodyError(Box<dyn std::error::Error + Send + Sync>);

fn describe_hyper(e: &hyper::Error) -> String {
    let what = if e.is_incomplete_message() {
        "connection closed before a complete answer"
    } else if e.is_canceled() {
        "request canceled: the connection closed"
    } else if e.is_parse() {
        "malformed HTTP response"
    } else {
        "connection error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{what}: {source}"),
        None => format!("{what}: {e}"),
    }
}

/// Opens a kept-alive HTTP/1.1 connection, within `timeout`.
async fn connect(addr: SocketAddr, timeout: Duration) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect to {addr}: {e}")),
        Err(_) => return Err(format!("connect to {addr}: no answer within {timeout:?}")),
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        match tokio::time::timeout(timeout, http1::handshake(TokioIo::new(stream))).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(format!("HTTP handshake with {addr}: {e}")),
            Err(_) => {
                return Err(format!(
                    "HTTP handshake with {addr}: no answer within {timeout:?}"
                ))
            }
        };
    tokio::spawn(async move {
        // Errors surface through the sender; nothing to do here.
        let _ = connection.await;
    });
    Ok(sender)
}

/// One `GET path` on a fresh connection, within `timeout`: used for
/// readiness probes and state checks.
pub async fn get_once(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    let work = async {
        let mut conn = connect(addr, timeout).await?;
        let req = Request::get(path)
            .header(HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("bad path {path:?}: {e}"))?;
        let resp = conn
            .send_request(req)
            .await
            .map_err(|e| describe_hyper(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("response body unreadable: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}
