//! One worker: its connection, its share of the schedule, and the judging
//! of every answer it gets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::CONTENT_LENGTH;
use hyper::{HeaderMap, Request};
use tokio::time::Instant;

use super::conn::{connect, BodyError, ConnError, ExchangeError};
use super::{Burst, Progress, Schedule, MAX_RESPONSE_BYTES};
use crate::outcome::FailureKind;
use crate::plan::{FireConfig, Stop};
use crate::stats::RunStats;

pub(super) struct Worker {
    id: usize,
    config: Arc<FireConfig>,
    headers: Arc<HeaderMap>,
    progress: Arc<Progress>,
    schedule: Arc<Schedule>,
    stats: RunStats,
    conn: Option<SendRequest<Full<Bytes>>>,
}

/// How one request ended, before judging.
enum Exchange {
    Answered { status: u16, body: Bytes },
    Failed { kind: FailureKind, message: String },
}

impl Worker {
    pub(super) fn new(
        id: usize,
        config: Arc<FireConfig>,
        headers: Arc<HeaderMap>,
        progress: Arc<Progress>,
        schedule: Arc<Schedule>,
    ) -> Self {
        let stats = RunStats::new(config.checks.body.len(), config.rate.is_some());
        Self {
            id,
            config,
            headers,
            progress,
            schedule,
            stats,
            conn: None,
        }
    }

    pub(super) async fn run(mut self) -> RunStats {
        let schedule = Arc::clone(&self.schedule);
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
    pub(super) async fn run_bursts(mut self, burst: &Burst) -> RunStats {
        let _ = self.ensure_connected().await;
        let c = self.config.concurrency as u64;
        let start = self.schedule.start;
        loop {
            if burst.barrier.wait().await.is_leader() {
                let round = burst.rounds.fetch_add(1, Ordering::Relaxed);
                let size = match self.config.stop {
                    _ if self.schedule.is_halted() => 0,
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

    async fn ensure_connected(&mut self) -> Result<(), ConnError> {
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
            Err(e) => Exchange::Failed {
                kind: FailureKind::Connect,
                message: e.to_string(),
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
        let failure = match exchange {
            Exchange::Answered { status, body } => {
                self.stats.record_status(status);
                match self.config.checks.judge(status, &body) {
                    Ok(()) => {
                        self.stats.pass();
                        None
                    }
                    Err(r) => {
                        self.stats
                            .fail(r.kind, r.check, index, Some(status), &r.message);
                        Some(r.message)
                    }
                }
            }
            Exchange::Failed { kind, message } => {
                self.stats.fail(kind, None, index, None, &message);
                Some(message)
            }
        };
        self.progress.done.fetch_add(1, Ordering::Relaxed);
        if let Some(message) = failure {
            self.progress.failed.fetch_add(1, Ordering::Relaxed);
            if let Some(halt) = &self.config.halt {
                if halt.is_triggered_by(&message) {
                    self.schedule.halt();
                }
            }
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
