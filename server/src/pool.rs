//! The server's SQLite connections, pooled by [`racegate_pool`]: how each
//! connection is opened ([`SqliteConnections`], the pool's [`Manager`]) and
//! the pool as the server holds it ([`ConnectionPool`]: the generic pool
//! plus the database settings its users need).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use racegate_pool::{InitGuard, Manager, Pool};

use crate::bugs::{Bug, Faults};
use crate::checkpoint::{self, Checkpointer};
use crate::db::{self, ConnectionSettings, Synchronous, WriteLock};
use crate::storage::StorageHealth;

pub use racegate_pool::PoolStats;

/// Why an acquire failed.
pub type PoolError = racegate_pool::PoolError<OpenError>;

/// A connection borrowed from the pool; it goes back when dropped.
pub type PooledConnection = racegate_pool::Pooled<SqliteConnections>;

/// How the pool is built.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// The most connections open at once.
    pub size: usize,
    /// How long an acquire waits for a free connection before it fails (a
    /// queued one ends up to a thirty-second of this, at most 100 ms, later).
    pub acquire_timeout: Duration,
    /// How long a connection waits for SQLite's write lock.
    pub busy_timeout: Duration,
    /// Bugs to re-introduce.
    pub faults: Faults,
    /// When commits wait for the disk.
    pub synchronous: Synchronous,
    /// When the WAL is copied back into the database file.
    pub checkpoints: checkpoint::Schedule,
    /// The most the database file may grow to (`--max-db-bytes`).
    pub max_db_bytes: Option<u64>,
}

impl PoolConfig {
    /// A pool of `size` connections on `path` with the default timeouts.
    pub fn new(path: impl Into<PathBuf>, size: usize) -> Self {
        Self {
            path: path.into(),
            size,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            faults: Faults::none(),
            synchronous: Synchronous::Normal,
            checkpoints: checkpoint::Schedule::default(),
            max_db_bytes: None,
        }
    }

    /// The per-connection settings, with `locked-db` applied if it is on.
    pub fn connection_settings(&self) -> ConnectionSettings {
        let locked = self.faults.is_on(Bug::LockedDb);
        ConnectionSettings {
            busy_timeout: if locked {
                Duration::ZERO
            } else {
                self.busy_timeout
            },
            write_lock: if locked {
                WriteLock::Deferred
            } else {
                WriteLock::Immediate
            },
            synchronous: self.synchronous,
            max_pages: self.max_db_bytes.map(|b| (b / db::PAGE_SIZE).max(1)),
        }
    }
}

/// Opening a database connection (or its checkpoint thread) failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot open database {}: {reason}", path.display())]
pub struct OpenError {
    /// The database file.
    pub path: PathBuf,
    /// What SQLite (or the connection's thread) said.
    pub reason: String,
    /// SQLite's error code, if it gave one.
    pub sqlite: Option<rusqlite::ffi::Error>,
}

/// Opens and closes the server's SQLite connections, each a
/// `tokio_rusqlite` handle (a std thread of its own, reached over channels,
/// bound to no runtime); a build's companion is its [`Checkpointer`].
pub struct SqliteConnections {
    config: PoolConfig,
    settings: ConnectionSettings,
    /// Once a build has opened the database, later ones never create it: a
    /// file that vanished is reported missing, not replaced by an empty one.
    opened: AtomicBool,
}

impl SqliteConnections {
    fn open_error(&self, reason: String) -> OpenError {
        OpenError {
            path: self.config.path.clone(),
            reason,
            sqlite: None,
        }
    }

    fn sqlite_error(&self, e: &rusqlite::Error) -> OpenError {
        OpenError {
            sqlite: match e {
                rusqlite::Error::SqliteFailure(f, _) => Some(*f),
                _ => None,
            },
            ..self.open_error(e.to_string())
        }
    }
}

impl Manager for SqliteConnections {
    type Connection = tokio_rusqlite::Connection;
    type Error = OpenError;
    type Companion = Checkpointer;

    /// The first connection of a build also turns WAL on and creates the
    /// schema (unless `racy-schema` leaves that to first use).
    async fn open(&self, index: usize) -> Result<Self::Connection, OpenError> {
        let first = index == 0;
        let mut flags = rusqlite::OpenFlags::default();
        if self.opened.load(Ordering::Acquire) {
            flags.remove(rusqlite::OpenFlags::SQLITE_OPEN_CREATE);
        }
        let conn = tokio_rusqlite::Connection::open_with_flags(&self.config.path, flags)
            .await
            .map_err(|e| self.sqlite_error(&e))?;
        let settings = self.settings;
        let create_schema = first && !self.config.faults.is_on(Bug::RacySchema);
        let prepared = conn
            .call(move |c| {
                name_this_thread();
                db::remember_file(c);
                settings.apply(c)?;
                if first {
                    db::enable_wal(c)?;
                }
                if create_schema {
                    db::create_schema(c)?;
                }
                Ok::<_, rusqlite::Error>(())
            })
            .await;
        match prepared {
            Ok(()) => {
                self.opened.store(true, Ordering::Release);
                Ok(conn)
            }
            Err(e) => {
                self.close(conn.clone()).await;
                Err(match e {
                    tokio_rusqlite::Error::Error(e) => self.sqlite_error(&e),
                    _ => self.open_error("the connection's thread ended during setup".to_owned()),
                })
            }
        }
    }

    async fn close(&self, conn: Self::Connection) {
        if let Err(e) = conn.close().await {
            tracing::warn!(error = %e, "closing a database connection failed");
        }
    }

    async fn companion(&self) -> Result<Checkpointer, OpenError> {
        Checkpointer::start(
            self.config.path.clone(),
            self.settings,
            self.config.checkpoints,
        )
        .await
        .map_err(|reason| self.open_error(reason))
    }

    fn stop(companion: &Checkpointer) {
        companion.stop();
    }
}

/// The server's pool: [`racegate_pool::Pool`] over [`SqliteConnections`].
pub struct ConnectionPool {
    pool: Arc<Pool<SqliteConnections>>,
    health: StorageHealth,
}

impl ConnectionPool {
    /// A pool that opens nothing until first used.
    pub fn new(config: PoolConfig) -> Arc<Self> {
        let mut shape = racegate_pool::PoolConfig::new(config.size);
        shape.acquire_timeout = config.acquire_timeout;
        if config.faults.is_on(Bug::UnguardedInit) {
            shape.init_guard = InitGuard::Off;
        }
        shape.runtime_bound_waits = config.faults.is_on(Bug::RuntimeBoundPool);
        let settings = config.connection_settings();
        let manager = SqliteConnections {
            config,
            settings,
            opened: AtomicBool::new(false),
        };
        Arc::new(Self {
            pool: Pool::new(manager, shape),
            health: StorageHealth::default(),
        })
    }

    /// The storage's health as requests found it.
    pub fn health(&self) -> &StorageHealth {
        &self.health
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.pool.manager().config
    }

    /// How write transactions must begin on this pool's connections.
    pub fn write_lock(&self) -> WriteLock {
        self.pool.manager().settings.write_lock
    }

    /// Borrows a connection, waiting at most the acquire timeout.
    pub async fn acquire(&self) -> Result<PooledConnection, PoolError> {
        self.pool.acquire().await
    }

    /// Opens the pool now instead of at the first acquire.
    pub async fn warm_up(&self) -> Result<(), PoolError> {
        self.pool.warm_up().await
    }

    /// Closes the pool: waiters fail with [`PoolError::Closed`], idle
    /// connections close now, lent ones when they come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Makes a closed pool usable again; the next acquire builds it afresh.
    pub fn reopen(&self) {
        self.pool.reopen();
    }

    /// Replaces the pool's connections: the next acquire builds a new set.
    pub fn recycle(&self) {
        self.pool.recycle();
    }

    /// A snapshot for metrics.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }
}

/// Names the calling thread, a connection's own (tokio-rusqlite starts it
/// unnamed, so it showed the name of the runtime worker that opened it), so
/// `top -H` and `/proc/<pid>/task/*/comm` tell SQLite's time apart.
fn name_this_thread() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_name(c"racegate-sqlite");
}
