//! Running a resolved [`FireConfig`]: the start time, the fault proxy, the
//! engine, and the report it all adds up to.

use std::sync::Arc;
use std::time::SystemTime;

use super::error::FireError;
use super::target::fault_proxy;
use crate::engine::{self, Progress};
use crate::nemesis::FaultsReport;
use crate::plan::{FireConfig, Shard, Stop};
use crate::report::{Http2Info, LoadInfo, Report, ShardInfo, TargetInfo, TlsInfo};
use crate::request::BodyTemplate;

/// The furthest ahead `--start-at` may be: a run waits, but not forever.
pub const MAX_START_DELAY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs a resolved config, updating `progress` as requests finish; with
/// `--fault`, through a fault proxy of its own.
pub async fn run_config(
    mut config: FireConfig,
    progress: Arc<Progress>,
) -> Result<Report, FireError> {
    if let Some(at) = config.start_at {
        // Bounded by MAX_START_DELAY at resolve; a time already past starts now.
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait.min(MAX_START_DELAY)).await;
        }
    }
    // The proxy's windows count from its start, just before the run's.
    config.via = fault_proxy(
        config.target.addr,
        &config.proxy,
        config.seed,
        config.timeout,
    );
    let config = Arc::new(config);
    let finished = engine::run(Arc::clone(&config), progress).await;
    let target = TargetInfo {
        method: config.request.method.to_string(),
        url: config.target.url.to_string(),
        body: config.request.body.as_ref().map(BodyTemplate::fingerprint),
        tls: config.target.tls.as_ref().map(|t| TlsInfo {
            insecure: t.insecure(),
        }),
    };
    let load = LoadInfo {
        concurrency: config.concurrency,
        requests: match config.stop {
            Stop::Requests(n) => Some(n),
            Stop::Duration(_) => None,
        },
        duration_limit_s: match config.stop {
            Stop::Duration(d) => Some(d.as_secs_f64()),
            Stop::Requests(_) => None,
        },
        rate: config.rate,
        burst: config.burst,
        timeout_ms: crate::duration::millis(config.timeout),
        http2: config.http2.map(|streams| Http2Info {
            streams,
            max_concurrent_streams: finished.max_streams,
            effective_concurrency: config.concurrency
                * finished.max_streams.map_or(streams, |m| m.min(streams)),
        }),
    };
    let mut report = Report::new(
        target,
        load,
        config.checks.clone(),
        config.gate,
        finished.stats,
        finished.elapsed.as_secs_f64(),
    );
    report.halted = finished.halted;
    report.set_timeline(&finished.timeline);
    if config.cancel.is_some() || config.via.is_some() {
        let mut faults = FaultsReport::new(
            config.seed,
            config.cancel.as_ref(),
            finished.start_unix_ms,
            config.recovery_floor,
            report.timeline.as_ref(),
        );
        if let Some(proxy) = &config.via {
            faults.add_proxy(&config.proxy, proxy.stop(), report.timeline.as_ref());
        }
        report.set_faults(faults);
    }
    if config.shard != Shard::WHOLE || config.run_id.is_some() {
        report.shard = Some(ShardInfo {
            run_id: config.run_id.clone().unwrap_or_default(),
            index: config.shard.index,
            count: config.shard.count,
        });
    }
    Ok(report)
}
