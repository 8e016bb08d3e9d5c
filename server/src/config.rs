//! [`ServerConfig`]: every knob of the server, as CLI flags and environment
//! variables, with defaults that start a loopback server on `racegate.db`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::bugs::{Bug, Faults};
use crate::db::Synchronous;
use crate::pool::PoolConfig;

/// How the server runs its async work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeMode {
    /// One multi-thread runtime.
    Multi,
    /// N current-thread runtimes, one per thread, accepting on one socket and
    /// sharing the services (the actix-web layout, where cross-runtime bugs bite).
    PerCore,
}

/// The reference chat server's configuration.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "racegate-server",
    version,
    about = "racegate's reference chat server"
)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "RACEGATE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, env = "RACEGATE_DB", default_value = "racegate.db")]
    pub db: PathBuf,
    /// Runtime layout.
    #[arg(long, env = "RACEGATE_RUNTIME", value_enum, default_value_t = RuntimeMode::Multi)]
    pub runtime: RuntimeMode,
    /// Worker threads (multi) or runtimes (per-core); default: one per core.
    #[arg(long, env = "RACEGATE_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// Most database connections open at once.
    #[arg(long, env = "RACEGATE_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub pool_size: u16,
    /// Longest wait for a free connection before answering 503.
    #[arg(long, env = "RACEGATE_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    pub acquire_timeout_ms: u64,
    /// Longest wait for SQLite's write lock.
    #[arg(long, env = "RACEGATE_BUSY_TIMEOUT_MS", default_value_t = 5000)]
    pub busy_timeout_ms: u64,
    /// When a commit waits for the disk: `normal` (an acknowledged write
    /// survives the process being killed, not a power cut) or `full` (it
    /// survives a power cut too; one fsync per group-commit batch).
    #[arg(long, env = "RACEGATE_SYNCHRONOUS", value_enum, default_value_t = Synchronous::Normal)]
    pub synchronous: Synchronous,
    /// Cap the database file at this many bytes (rounded down to 4 KiB
    /// pages): past it, writes fail with 503 disk_full as on a full disk.
    #[arg(long, env = "RACEGATE_MAX_DB_BYTES")]
    pub max_db_bytes: Option<u64>,
    /// Simulated model latency added to every chat turn.
    #[arg(long, env = "RACEGATE_THINK_MS", default_value_t = 0)]
    pub think_ms: u64,
    /// Re-introduce a catalogued bug (repeatable): runtime-bound-pool,
    /// unguarded-init, racy-schema, locked-db, lost-update, leak-on-error.
    #[arg(long = "inject", value_name = "BUG")]
    pub inject: Vec<Bug>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key); ALPN
    /// offers h2 and http/1.1. Without it, plain HTTP/1.1 and h2c (HTTP/2
    /// with prior knowledge) on the same port.
    #[arg(
        long,
        env = "RACEGATE_TLS_CERT",
        requires = "tls_key",
        value_name = "PEM"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "RACEGATE_TLS_KEY",
        requires = "tls_cert",
        value_name = "PEM"
    )]
    pub tls_key: Option<PathBuf>,
    /// How long in-flight requests may run after a shutdown signal.
    #[arg(long, env = "RACEGATE_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
}

impl ServerConfig {
    /// The defaults, as if started with no flags, on `db` and `addr`.
    pub fn new(addr: SocketAddr, db: impl Into<PathBuf>) -> Self {
        let mut config = Self::parse_from(["racegate-server"]);
        config.addr = addr;
        config.db = db.into();
        config
    }

    /// The bugs switched on.
    pub fn faults(&self) -> Faults {
        Faults::with(self.inject.iter().copied())
    }

    /// Worker count: the flag, or one per available core.
    pub fn worker_count(&self) -> usize {
        self.workers.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// The pool's configuration.
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            path: self.db.clone(),
            size: usize::from(self.pool_size),
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
            busy_timeout: Duration::from_millis(self.busy_timeout_ms),
            faults: self.faults(),
            synchronous: self.synchronous,
            checkpoints: crate::checkpoint::Schedule::default(),
            max_db_bytes: self.max_db_bytes,
        }
    }
}
