//! One worker: its connection, its share of the schedule, and the judging
//! of every answer it gets.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::client::Exchange;
use super::transport::Transport;
use super::wire::RequestHead;
use super::{Burst, Progress, Schedule};
use crate::plan::{FireConfig, Stop};
use crate::stats::RunStats;
use crate::timeline::{bucket_index, Bucket};

pub(super) struct Worker {
    id: usize,
    config: Arc<FireConfig>,
    /// The request line and headers, serialised once.
    head: Arc<RequestHead>,
    progress: Arc<Progress>,
    schedule: Arc<Schedule>,
    /// The tallies of every worker on this worker's thread. One per thread,
    /// not per worker: 32 workers' latency histograms (tens of KiB each)
    /// made every record a cache miss (perf, fire against nginx). The lock
    /// is never contended: a thread's workers take turns on it.
    stats: Arc<Mutex<RunStats>>,
    client: Transport,
    /// The timeline bucket being filled: its width, its index on a grid of
    /// that width, and its counts.
    bucket: (u64, u64, Bucket),
    /// Requests finished and failed since the last [`flush`](Self::flush),
    /// not yet added to the shared progress counters: adding each one at once
    /// pulled those counters' cache line across cores on every request.
    unpublished: (u64, u64),
}

impl Worker {
    pub(super) fn new(
        id: usize,
        config: Arc<FireConfig>,
        head: Arc<RequestHead>,
        progress: Arc<Progress>,
        schedule: Arc<Schedule>,
        stats: Arc<Mutex<RunStats>>,
        client: Transport,
    ) -> Self {
        let width = config.bucket_ms.max(1);
        Self {
            id,
            config,
            head,
            progress,
            schedule,
            stats,
            client,
            bucket: (width, 0, Bucket::default()),
            unpublished: (0, 0),
        }
    }

    /// Moves to the timeline bucket holding `intended`, handing the one
    /// filled so far to the shared timeline.
    fn bucket_for(&mut self, intended: Instant) {
        let width = self.progress.width_ms.load(Ordering::Relaxed).max(1);
        let index = bucket_index(self.schedule.unix_ms_of(intended), width);
        if (width, index) != (self.bucket.0, self.bucket.1) {
            self.flush();
            (self.bucket.0, self.bucket.1) = (width, index);
        }
    }

    /// Hands the current bucket to the shared timeline, and the requests
    /// finished since the last flush to the progress counters (so these lag
    /// by at most a bucket's width and a request).
    fn flush(&mut self) {
        let (done, failed) = std::mem::take(&mut self.unpublished);
        if done > 0 {
            self.progress.done.fetch_add(done, Ordering::Relaxed);
        }
        if failed > 0 {
            self.progress.failed.fetch_add(failed, Ordering::Relaxed);
        }
        let (width, index, bucket) = &mut self.bucket;
        if bucket.sent() > 0 || bucket.faulted > 0 {
            let bucket = std::mem::take(bucket);
            let now = self.progress.with_timeline(|t| {
                t.add_at(*width, *index, &bucket);
                t.bucket_ms()
            });
            self.progress.width_ms.store(now, Ordering::Relaxed);
        }
    }

    fn finish(mut self) {
        self.flush();
    }

    pub(super) async fn run(mut self) {
        let schedule = Arc::clone(&self.schedule);
        while let Some((index, intended)) = schedule.next() {
            if schedule.interval.is_some() {
                tokio::time::sleep_until(intended).await;
            }
            self.request(index, intended).await;
        }
        self.finish()
    }

    /// Burst mode: every round, all workers meet at a barrier, the leader
    /// decides how many requests the round carries, and they are sent
    /// together. Connections are opened before the first round so that
    /// connecting does not spread the sends out.
    pub(super) async fn run_bursts(mut self, burst: &Burst) {
        let _ = self.client.connect().await;
        let c = self.config.workers() as u64;
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
                let k = round * c + self.id as u64;
                self.request(self.schedule.shard.request_index(k), Instant::now())
                    .await;
            }
        }
        self.finish()
    }

    async fn request(&mut self, index: u64, intended: Instant) {
        self.bucket_for(intended);
        let outage = self.config.outage.as_ref().map(|o| (o, o.mark()));
        let mut latency = (Duration::ZERO, Duration::ZERO);
        let exchange = match self.client.connect().await {
            Err(e) => Exchange::Failed {
                kind: e.kind(),
                message: e.to_string(),
            },
            Ok(()) => {
                let body = self.body(index);
                let abandon = self.config.cancel.as_ref().and_then(|c| {
                    let at = intended.saturating_duration_since(self.schedule.start);
                    c.decide(self.config.seed, index, at)
                });
                let sent = Instant::now();
                let exchange = self.client.exchange_with(&self.head, &body, abandon).await;
                let now = Instant::now();
                latency = (now - intended, now - sent);
                exchange
            }
        };
        let failure = match exchange {
            Exchange::Answered { status, body, .. } => {
                // Judged before the tallies are locked: the check is the
                // costly part.
                let verdict = self.config.checks.judge(status, &body);
                let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
                stats.record_latency(latency.0, latency.1);
                stats.record_status(status);
                let us = u64::try_from(latency.0.as_micros()).unwrap_or(u64::MAX);
                self.bucket.2.latency.record(us);
                match verdict {
                    Ok(()) => {
                        stats.pass();
                        self.bucket.2.pass();
                        None
                    }
                    Err(r) => {
                        let cluster = stats.fail(r.kind, r.check, index, Some(status), &r.message);
                        self.bucket.2.fail(r.kind, Some(cluster));
                        Some(r.message)
                    }
                }
            }
            // A restart of the server, or the fault proxy, did it: faulted,
            // not judged.
            Exchange::Failed { kind, .. }
                if kind.is_unanswered()
                    && (outage.is_some_and(|(o, mark)| o.overlapped(mark))
                        || self
                            .config
                            .via
                            .as_ref()
                            .is_some_and(|p| p.broken().is_marked(self.client.port()))) =>
            {
                self.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .fault();
                self.bucket.2.faulted += 1;
                None
            }
            Exchange::Failed { kind, message } => {
                let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
                let cluster = stats.fail(kind, None, index, None, &message);
                self.bucket.2.fail(kind, Some(cluster));
                Some(message)
            }
            Exchange::Abandoned { .. } => {
                // Broken on purpose: counted apart, never judged.
                self.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .fault();
                self.bucket.2.faulted += 1;
                None
            }
        };
        self.unpublished.0 += 1;
        if let Some(message) = failure {
            self.unpublished.1 += 1;
            if let Some(halt) = &self.config.halt {
                if halt.is_triggered_by(&message) {
                    self.schedule.halt();
                }
            }
        }
    }

    fn body(&self, index: u64) -> Bytes {
        self.config
            .request
            .body
            .as_ref()
            .map_or_else(Bytes::new, |t| t.render(index, self.id))
    }
}
