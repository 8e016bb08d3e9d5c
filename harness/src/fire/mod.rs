//! `fire`: the library entry point. [`Fire`] is a builder over
//! [`FireConfig`]; the CLI builds the same config from its flags, so a user's
//! own `#[tokio::test]` and the command line run the same engine.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let config = racegate_server::ServerConfig::new("127.0.0.1:0".parse()?, dir.path().join("chat.db"));
//! # let server = racegate_server::RunningServer::start(config)?;
//! # let url = server.url("/api/chat");
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let report = racegate::Fire::post(url, r#"{"message": "hello {i}"}"#)
//!     .concurrency(10)
//!     .requests(100)
//!     .expect_json_field("response")
//!     .run()
//!     .await?;
//! report.assert_pass_rate(1.0);
//! assert_eq!(report.total, 100);
//! # Ok::<_, racegate::FireError>(()) })?;
//! # Ok(()) }
//! ```

mod error;
mod run;
mod target;

pub use error::FireError;
pub use run::{run_config, MAX_START_DELAY};
pub use target::{ensure_listening, fault_proxy, resolve_target};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::Method;

use crate::check::CheckSpec;
use crate::engine::Progress;
use crate::gate::Gate;
use crate::nemesis::proxy::ProxyFault;
use crate::nemesis::server::Outage;
use crate::nemesis::CancelSpec;
use crate::plan::{FireConfig, Halt, Shard, Stop};
use crate::report::Report;
use crate::request::{parse_header, BodyTemplate, HeaderError, RequestSpec};
use crate::tls::TlsOptions;

/// Builds and runs a load test from code. The check methods take the same
/// names and shapes as the `fire` flags and the scenario keys (see
/// [`CheckSpec`]); a bad value is reported by [`resolve`](Self::resolve).
#[derive(Clone, Debug)]
pub struct Fire {
    url: String,
    request: RequestSpec,
    concurrency: usize,
    stop: Stop,
    halt: Option<Halt>,
    shard: Shard,
    start_at: Option<SystemTime>,
    run_id: Option<String>,
    rate: Option<f64>,
    burst: bool,
    timeout: Duration,
    checks: CheckSpec,
    gate: Gate,
    allow_remote: bool,
    tls: TlsOptions,
    http2: Option<usize>,
    bucket_ms: u64,
    cancel: Option<CancelSpec>,
    seed: Option<u64>,
    recovery_floor: f64,
    outage: Option<Arc<Outage>>,
    proxy: Vec<ProxyFault>,
    /// Builder inputs that cannot be used, reported by `resolve`.
    invalid: Vec<HeaderError>,
}

impl Fire {
    /// `GET url`, 1 worker, 1 request, expecting any 2xx.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            request: RequestSpec::default(),
            concurrency: 1,
            stop: Stop::Requests(1),
            halt: None,
            shard: Shard::WHOLE,
            start_at: None,
            run_id: None,
            rate: None,
            burst: false,
            timeout: Duration::from_secs(10),
            checks: CheckSpec::default(),
            gate: Gate::default(),
            allow_remote: false,
            tls: TlsOptions::default(),
            http2: None,
            bucket_ms: crate::timeline::DEFAULT_BUCKET_MS,
            cancel: None,
            seed: None,
            recovery_floor: crate::nemesis::RECOVERY_FLOOR,
            outage: None,
            proxy: Vec::new(),
            invalid: Vec::new(),
        }
    }

    /// Abandons a share of requests on purpose (the nemesis's client
    /// cancellation); they are counted as faulted, not judged.
    pub fn cancel(mut self, spec: CancelSpec) -> Self {
        self.cancel = Some(spec);
        self
    }

    /// Sends the run through the fault proxy with `spec` added (see
    /// [`ProxyFault`]); requests it resets, stalls or closes are faulted.
    pub fn fault(mut self, spec: ProxyFault) -> Self {
        self.proxy.push(spec);
        self
    }

    /// The pass rate a timeline bucket needs, after a fault window, to count
    /// as recovered (default 0.99).
    pub fn recovery_floor(mut self, floor: f64) -> Self {
        self.recovery_floor = floor;
        self
    }

    /// While `outage` says the server is down (a restart by `racegate
    /// repro`), requests that fail to connect, time out or lose their
    /// connection are faulted, not judged.
    pub fn outage(mut self, outage: Arc<Outage>) -> Self {
        self.outage = Some(outage);
        self
    }

    /// The seed fault decisions are drawn from (default: a fresh one,
    /// recorded in the report).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// `POST url` with a body template (`{i}`, `{worker}`, `{uuid}`).
    pub fn post(url: impl Into<String>, body: impl Into<bytes::Bytes>) -> Self {
        Self::get(url).method(Method::POST).body(body)
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.request.method = method;
        self
    }

    /// Sets the body template.
    pub fn body(mut self, body: impl Into<bytes::Bytes>) -> Self {
        self.request.body = Some(BodyTemplate::parse(body));
        self
    }

    /// Adds a header `Name: value`.
    pub fn header(mut self, spec: &str) -> Self {
        match parse_header(spec) {
            Ok(header) => self.request.headers.push(header),
            Err(e) => self.invalid.push(e),
        }
        self
    }

    /// Sets the timeline's bucket width (default 100 ms; widened on long
    /// runs so that a timeline never exceeds 500 buckets).
    pub fn timeline_bucket(mut self, width: Duration) -> Self {
        self.bucket_ms = crate::duration::millis(width);
        self
    }

    /// Sets the number of workers (connections).
    pub fn concurrency(mut self, c: usize) -> Self {
        self.concurrency = c;
        self
    }

    /// Stops after `n` requests.
    pub fn requests(mut self, n: u64) -> Self {
        self.stop = Stop::Requests(n);
        self
    }

    /// Stops after `d`.
    pub fn duration(mut self, d: Duration) -> Self {
        self.stop = Stop::Duration(d);
        self
    }

    /// Sends nothing more after the first failure that `halt` names.
    pub fn halt(mut self, halt: Halt) -> Self {
        self.halt = Some(halt);
        self
    }

    /// Runs shard `index` of `count`: its share of the requests (indices
    /// `i` with `i % count == index`) and of the rate.
    pub fn shard(mut self, index: u32, count: u32) -> Self {
        self.shard = Shard { index, count };
        self
    }

    /// Names the run this shard belongs to; `merge` groups shards by it.
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }

    /// Starts sending at this wall-clock time (all shards together).
    pub fn start_at(mut self, at: SystemTime) -> Self {
        self.start_at = Some(at);
        self
    }

    /// Open loop at `r` requests per second.
    pub fn rate(mut self, r: f64) -> Self {
        self.rate = Some(r);
        self
    }

    /// All workers send together, round after round.
    pub fn burst(mut self) -> Self {
        self.burst = true;
        self
    }

    /// Per-request timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Expected statuses: `200`, `2xx`, `200-204` or a comma list; adds to
    /// earlier calls and replaces the default (any 2xx).
    pub fn expect_status(mut self, statuses: &str) -> Self {
        self.checks.expect_status.push(statuses.to_owned());
        self
    }

    /// The body must be JSON with this top-level field (or `/pointer`).
    pub fn expect_json_field(mut self, field: &str) -> Self {
        self.checks.expect_json_field.push(field.to_owned());
        self
    }

    /// `/pointer=value`: the JSON at the pointer must equal the value.
    pub fn expect_json(mut self, spec: &str) -> Self {
        self.checks.expect_json.push(spec.to_owned());
        self
    }

    /// The body must contain `text`.
    pub fn expect_body_contains(mut self, text: &str) -> Self {
        self.checks.expect_body_contains.push(text.to_owned());
        self
    }

    /// Replaces every check with these.
    pub fn checks(mut self, checks: CheckSpec) -> Self {
        self.checks = checks;
        self
    }

    /// Sets the gate.
    pub fn gate(mut self, gate: Gate) -> Self {
        self.gate = gate;
        self
    }

    /// Allows a non-loopback target.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// Whom an `https://` target is trusted as (`--cacert`, `--insecure`).
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Speaks HTTP/2 with `streams` concurrent streams on each connection
    /// (`--http2 -p N`): ALPN `h2` over `https://`, prior knowledge (h2c)
    /// over `http://`.
    pub fn http2(mut self, streams: usize) -> Self {
        self.http2 = Some(streams);
        self
    }

    /// Validates the options, resolves the target, checks it is loopback (or
    /// allowed) and that something listens there.
    pub async fn resolve(self) -> Result<FireConfig, FireError> {
        if let Some(e) = self.invalid.into_iter().next() {
            return Err(e.into());
        }
        let checks = self.checks.checks()?;
        let invalid = |m: String| Err(FireError::Invalid(m));
        if self.concurrency == 0 {
            return invalid("concurrency must be at least 1".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return invalid(format!("--rate must be a positive number, got {r}"));
            }
            if self.burst {
                return invalid(
                    "--rate and --burst do not mix: a burst sends as fast as it can".into(),
                );
            }
        }
        if self.http2 == Some(0) {
            return invalid("--streams must be at least 1".into());
        }
        if self.timeout.is_zero() {
            return invalid("the timeout must be positive".into());
        }
        let Shard { index, count } = self.shard;
        if count == 0 || index >= count {
            return invalid(format!(
                "--shard {index}/{count}: the index must be below the count (shards 0/{count} … {}/{count})",
                count.saturating_sub(1)
            ));
        }
        if let Some(at) = self.start_at {
            if at.duration_since(SystemTime::now()).unwrap_or_default() > MAX_START_DELAY {
                return invalid(format!(
                    "--start-at is more than {} s away; a run waits at most that long",
                    MAX_START_DELAY.as_secs()
                ));
            }
        }
        let stop = match self.stop {
            Stop::Requests(n) => Stop::Requests(self.shard.share(n)),
            d => d,
        };
        let rate = self.rate.map(|r| r / f64::from(count));
        if let Err(e) = crate::gate::check_pass_rate("--min-pass-rate", self.gate.min_pass_rate) {
            return invalid(e);
        }
        if let Err(e) = crate::gate::check_pass_rate("--recovery-floor", self.recovery_floor) {
            return invalid(e);
        }
        if self.bucket_ms == 0 {
            return invalid("--bucket must be at least 1ms".to_owned());
        }
        let target = resolve_target(
            &self.url,
            self.allow_remote,
            &self.tls,
            self.http2.is_some(),
        )
        .await?;
        ensure_listening(&target, self.timeout).await?;
        Ok(FireConfig {
            target,
            request: self.request,
            concurrency: self.concurrency,
            http2: self.http2,
            stop,
            shard: self.shard,
            start_at: self.start_at,
            run_id: self.run_id,
            halt: self.halt,
            rate,
            burst: self.burst,
            timeout: self.timeout,
            checks,
            gate: self.gate,
            bucket_ms: self.bucket_ms,
            cancel: self.cancel,
            seed: self.seed.unwrap_or_else(crate::nemesis::fresh_seed),
            recovery_floor: self.recovery_floor,
            outage: self.outage,
            proxy: self.proxy,
            via: None,
        })
    }

    /// Resolves and runs; the report says whether the gate passed.
    pub async fn run(self) -> Result<Report, FireError> {
        let config = self.resolve().await?;
        run_config(config, Arc::new(Progress::default())).await
    }
}
