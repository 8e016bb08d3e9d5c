//! racegate's reference chat server: axum over SQLite through a
//! runtime-safe connection pool, with known concurrency bugs on demand.
//!
//! - [`config`]: flags and environment ([`ServerConfig`]).
//! - [`serve`]: runtime layouts, signals, graceful shutdown ([`RunningServer`] for tests).
//! - [`http`]: the router ([`http::app`]) and handlers.
//! - [`memory`], [`settings`]: the services; [`store`]: how they run SQL
//!   (group commit; one batch's transaction in `batch`).
//! - [`pool`]: the SQLite connections, pooled by `racegate-pool`.
//! - [`db`]: schema and SQLite settings; [`responder`]: the deterministic reply.
//! - [`bugs`]: the bug catalogue behind `--inject`.
//! - [`error`], [`metrics`]: error responses and `/metrics`.
//! - [`storage`]: storage faults told apart, and the storage's health.
//! - [`tls`]: HTTPS (`--tls-cert`, `--tls-key`), with ALPN h2 and http/1.1.

pub(crate) mod batch;
pub mod bugs;
pub mod checkpoint;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod pool;
pub mod responder;
pub mod serve;
pub mod settings;
pub mod storage;
pub mod store;
pub(crate) mod sync;
pub mod tls;

pub use bugs::{Bug, Faults};
pub use config::{RuntimeMode, ServerConfig};
pub use serve::{bind, run_cli, serve, RunningServer, ServeError};
