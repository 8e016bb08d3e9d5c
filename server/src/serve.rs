//! Running the server: the runtime layouts, signals and graceful shutdown.
//!
//! The calling thread runs a small *control* runtime that watches for
//! SIGTERM/Ctrl-C and the caller's shutdown token; the serving runtimes run on
//! their own threads (one multi-thread runtime, or one current-thread runtime
//! per worker, all accepting on the same socket). On shutdown every runtime
//! stops accepting, in-flight requests get `shutdown_grace_ms` to finish, and
//! the pool is closed last, after every acknowledged write has committed.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::bugs::Bug;
use crate::config::{RuntimeMode, ServerConfig};
use crate::http::{app, AppState};
use crate::memory::MemoryService;
use crate::pool::{ConnectionPool, OpenError, PoolError};
use crate::settings::SettingsService;
use crate::storage::StorageFault;
use crate::store::Store;
use crate::tls::TlsListener;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding or using the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A runtime or thread could not be created.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The database cannot be opened.
    #[error(transparent)]
    Database(#[from] PoolError),
    /// A serving thread panicked.
    #[error("a serving thread panicked")]
    Panicked,
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
}

/// Builds the services and router state for `config`. Opens nothing: the
/// pool is built by its first user.
pub fn build_state(config: &ServerConfig) -> AppState {
    let pool = ConnectionPool::new(config.pool_config());
    let store = Store::new(Arc::clone(&pool));
    AppState {
        memory: MemoryService::new(store.clone(), Duration::from_millis(config.think_ms)),
        settings: SettingsService::new(store.clone()),
        pool,
        store,
        metrics: Arc::default(),
    }
}

/// Binds `config.addr` (port 0 picks a free port).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    let listen = |source| ServeError::Listen { addr, source };
    let listener = TcpListener::bind(addr).map_err(listen)?;
    listener.set_nonblocking(true).map_err(listen)?;
    Ok(listener)
}

/// Serves on `listener` until `shutdown` is cancelled (or, with
/// `handle_signals`, until SIGTERM or Ctrl-C), then shuts down gracefully.
/// Blocks the calling thread; call it outside any runtime.
pub fn serve(
    config: &ServerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    handle_signals: bool,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().unwrap_or(config.addr);
    let state = build_state(config);
    let control = current_thread_runtime()?;
    // Fail fast on a database that cannot be opened, or a certificate that
    // cannot be used, before accepting.
    check_database(config)?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        _ => None,
    };
    if config.faults().is_on(Bug::RuntimeBoundPool) {
        // The seed's mistake: build the pool eagerly, "at import time", on a
        // start-up runtime that is dropped before serving begins.
        let startup = current_thread_runtime()?;
        startup.block_on(state.pool.warm_up())?;
        drop(startup);
    }
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let workers: Vec<JoinHandle<Result<(), ServeError>>> = match config.runtime {
        RuntimeMode::Multi => {
            let runtime = Builder::new_multi_thread()
                .worker_threads(config.worker_count())
                .thread_name("racegate-worker")
                .enable_all()
                .build()
                .map_err(ServeError::Runtime)?;
            vec![spawn_serving_thread(
                "racegate-serve",
                runtime,
                Socket {
                    listener,
                    addr,
                    tls: tls.clone(),
                },
                &state,
                &shutdown,
                grace,
            )?]
        }
        RuntimeMode::PerCore => (0..config.worker_count())
            .map(|i| {
                let l = listener
                    .try_clone()
                    .map_err(|source| ServeError::Listen { addr, source })?;
                spawn_serving_thread(
                    &format!("racegate-core-{i}"),
                    current_thread_runtime()?,
                    Socket {
                        listener: l,
                        addr,
                        tls: tls.clone(),
                    },
                    &state,
                    &shutdown,
                    grace,
                )
            })
            .collect::<Result<_, _>>()?,
    };
    tracing::info!(%addr, tls = tls.is_some(), runtime = ?config.runtime, workers = config.worker_count(), bugs = ?config.faults().bugs(), "serving");
    control.block_on(async {
        if handle_signals {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = termination_signal() => {
                    tracing::info!("shutdown signal received");
                    shutdown.cancel();
                }
            }
        } else {
            shutdown.cancelled().await;
        }
    });
    let mut result = Ok(());
    for worker in workers {
        match worker.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(ServeError::Panicked),
        }
    }
    // Every serving runtime is gone; acknowledged writes have committed.
    control.block_on(state.pool.close());
    tracing::info!("stopped");
    result
}

/// What a serving thread accepts on: the socket, its address, and TLS if
/// configured.
struct Socket {
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
}

fn spawn_serving_thread(
    name: &str,
    runtime: Runtime,
    socket: Socket,
    state: &AppState,
    shutdown: &CancellationToken,
    grace: Duration,
) -> Result<JoinHandle<Result<(), ServeError>>, ServeError> {
    let Socket {
        listener,
        addr,
        tls,
    } = socket;
    let router = app(state.clone());
    let shutdown = shutdown.clone();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = runtime.block_on(async {
                let listen = |source| ServeError::Listen { addr, source };
                let listener = tokio::net::TcpListener::from_std(listener).map_err(listen)?;
                match tls {
                    Some(tls) => {
                        let listener = TlsListener::new(listener, tls).map_err(listen)?;
                        serve_until(listener, router, &shutdown, grace, addr).await
                    }
                    None => serve_until(listener, router, &shutdown, grace, addr).await,
                }
            });
            if result.is_err() {
                shutdown.cancel();
            }
            // Bounded: tasks still running after the grace period are dropped.
            runtime.shutdown_timeout(Duration::from_secs(1));
            result
        })
        .map_err(ServeError::Runtime)
}

/// Serves `router` on `listener` (plain HTTP/1.1 and h2c, or TLS) until
/// `shutdown`, then for at most `grace` while requests finish.
async fn serve_until<L>(
    listener: L,
    router: axum::Router,
    shutdown: &CancellationToken,
    grace: Duration,
    addr: SocketAddr,
) -> Result<(), ServeError>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let server =
        axum::serve(listener, router).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.map_err(|source| ServeError::Listen { addr, source }),
        () = deadline => {
            tracing::warn!(?grace, "in-flight requests outlived the shutdown grace period; dropping them");
            Ok(())
        }
    }
}

fn current_thread_runtime() -> Result<Runtime, ServeError> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)
}

/// Opens the database file once, without any runtime, so a bad path fails at
/// start with a clear message instead of at the first request.
fn check_database(config: &ServerConfig) -> Result<(), ServeError> {
    let opened = rusqlite::Connection::open(&config.db)
        .and_then(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)));
    // A condition that clears by itself (a read-only or full filesystem) is
    // served as one: 503 with its code until it clears.
    if let Err(rusqlite::Error::SqliteFailure(f, _)) = &opened {
        let fault = StorageFault::of(f, &config.db);
        if let Some(
            fault @ (StorageFault::ReadOnly | StorageFault::DiskFull | StorageFault::Busy),
        ) = fault
        {
            tracing::error!(code = fault.code(), path = %config.db.display(), "the database cannot be written now; serving 503 until it can");
            return Ok(());
        }
    }
    opened.map(drop).map_err(|e| {
        ServeError::Database(PoolError::Open(OpenError {
            path: config.db.clone(),
            reason: e.to_string(),
            sqlite: None,
        }))
    })
}

async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The whole `racegate-server` command: logging, bind, serve until a signal.
/// Returns the process exit code (0 after a clean shutdown, 2 if the server
/// cannot start). Shared by the `racegate-server` binary and `racegate server`.
pub fn run_cli(config: &ServerConfig) -> u8 {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match bind(config.addr)
        .and_then(|listener| serve(config, listener, CancellationToken::new(), true))
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("racegate-server: {e}");
            2
        }
    }
}

/// A server running on its own thread, for tests, benches and `repro`.
/// Dropping it shuts the server down and waits for it.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    thread: Option<JoinHandle<Result<(), ServeError>>>,
}

impl RunningServer {
    /// Binds `config.addr` and serves on a new thread. Connections are
    /// queued from the moment this returns.
    pub fn start(config: ServerConfig) -> Result<Self, ServeError> {
        let listener = bind(config.addr)?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.addr,
            source,
        })?;
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("racegate-server".to_owned())
            .spawn(move || serve(&config, listener, token, false))
            .map_err(ServeError::Runtime)?;
        Ok(Self {
            addr,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Shuts down gracefully and waits.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ServeError> {
        self.shutdown.cancel();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(Err(ServeError::Panicked)),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
