//! What a report says about the run itself: its target and how it was
//! reached (TLS, HTTP/2), its load shape, its shard, its latency
//! percentiles.

use serde::{Deserialize, Serialize};

/// The target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetInfo {
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
    /// The body template (its text, or its length and hash if long): runs
    /// merge only if they sent the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For an `https://` target: how the server was trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
}

/// How an `https://` target's server was trusted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TlsInfo {
    /// `--insecure`: its certificate was not verified.
    pub insecure: bool,
}

/// Which part of a split run a report covers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardInfo {
    /// The run all shards belong to.
    pub run_id: String,
    /// This shard, from 0.
    pub index: u32,
    /// How many shards in all.
    pub count: u32,
}

/// The load shape.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LoadInfo {
    /// Workers (connections).
    pub concurrency: usize,
    /// `-n`, if the run was bounded by count.
    pub requests: Option<u64>,
    /// `-z`, if bounded by duration, in seconds.
    pub duration_limit_s: Option<f64>,
    /// `--rate`, requests per second, if open loop.
    pub rate: Option<f64>,
    /// Whether `--burst` was on.
    pub burst: bool,
    /// Per-request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Over HTTP/2 (`--http2`): streams asked for, what the server allowed
    /// and the requests in flight that made. Absent: HTTP/1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2: Option<Http2Info>,
}

/// How an HTTP/2 run's concurrency came out.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Http2Info {
    /// `-p`: concurrent streams asked for on each connection.
    pub streams: usize,
    /// The server's `MAX_CONCURRENT_STREAMS`, the lowest any connection
    /// saw; `null` if it set none (or no answer came).
    pub max_concurrent_streams: Option<usize>,
    /// Requests in flight at most: connections × the streams each could
    /// carry.
    pub effective_concurrency: usize,
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}
