//! The fault proxy: between the client and the server, it injects the
//! `--fault` specs ([`spec`]) into real connections — the server sees real
//! resets and real slow bytes.
//!
//! `racegate proxy` is a TCP proxy on a loopback port, in front of any
//! client ([`Proxy`]). `fire` and `kv` dial the same proxy in-process
//! ([`Dialer`]): a worker's side of it is a pipe in memory, its side to the
//! server a real TCP connection. Requests it broke on purpose (reset,
//! stalled, closed) are marked by the client's port or pipe number
//! ([`Broken`]) so the run counts them as faulted; what latency, slices and
//! bandwidth do is judged as usual.
//!
//! Each connection is its own task with two 16 KiB buffers, and a finished
//! one is reaped at once: memory is flat however many requests go through.

mod broken;
mod dialer;
mod link;
mod pipe;
pub mod spec;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use broken::Broken;
pub use dialer::Dialer;
pub use pipe::Pipe;
pub use spec::{FaultKind, ProxyFault};

/// What one `--fault` did, as `report.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyFaultReport {
    /// The spec, as given.
    pub spec: String,
    /// How many times it acted: chunks delayed, sliced or throttled,
    /// requests reset or stalled, connections closed.
    pub injected: u64,
}

/// What the accept loop and every connection share.
pub(crate) struct Shared {
    upstream: SocketAddr,
    faults: Vec<ProxyFault>,
    injected: Vec<AtomicU64>,
    seed: u64,
    start: Instant,
    connect_timeout: Duration,
    broken: Broken,
    /// Connections dialled in-process so far (they number the draws).
    conns: AtomicU64,
}

impl Shared {
    /// Windows count from now.
    fn new(
        upstream: SocketAddr,
        faults: Vec<ProxyFault>,
        seed: u64,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            injected: faults.iter().map(|_| AtomicU64::new(0)).collect(),
            faults,
            seed,
            start: Instant::now(),
            connect_timeout,
            broken: Broken::default(),
            conns: AtomicU64::new(0),
        }
    }

    /// What each fault did so far.
    fn report(&self) -> Vec<ProxyFaultReport> {
        self.faults
            .iter()
            .zip(&self.injected)
            .map(|(f, n)| ProxyFaultReport {
                spec: f.to_string(),
                injected: n.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// A running proxy; [`stop`](Self::stop) ends it and says what it did.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Dropped (or set) to stop the accept loop and the threads.
    stop: watch::Sender<bool>,
}

impl Proxy {
    /// Listens on `listen` (port 0: any free port) and forwards every
    /// connection to `upstream` through `faults`, drawn from `seed`.
    /// Windows count from now. Connecting upstream is bounded by
    /// `connect_timeout`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        faults: Vec<ProxyFault>,
        seed: u64,
        connect_timeout: Duration,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        // Threads with a single-threaded runtime each, as the engine's
        // workers have: a connection lives on one of them, its two
        // directions waking on one thread.
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut handles = Vec::new();
        for _ in 0..threads {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()?;
            handles.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            std::thread::spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.changed().await;
                });
            });
        }
        // Windows count from here, just before the run starts.
        let shared = Arc::new(Shared::new(upstream, faults, seed, connect_timeout));
        let accept = {
            let shared = Arc::clone(&shared);
            let first = handles[0].clone();
            first.spawn(async move {
                let listener = TcpListener::from_std(listener)?;
                accept_loop(listener, shared, stopped, handles).await;
                Ok(())
            })
        };
        Ok(Self {
            addr,
            shared,
            accept,
            stop,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What each fault did so far.
    pub fn report(&self) -> Vec<ProxyFaultReport> {
        self.shared.report()
    }

    /// Stops accepting, closes every connection, and says what it did.
    pub async fn stop(mut self) -> Vec<ProxyFaultReport> {
        let _ = self.stop.send(true);
        // The loop aborts its connections and returns at once; bounded all
        // the same.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.accept).await;
        self.report()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Stopped or not, its threads end (they also would when `stop` is
        // dropped just after this).
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    threads: Vec<tokio::runtime::Handle>,
) {
    let mut conns = JoinSet::new();
    let mut conn = 0u64;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            // Reap finished connections as they end.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    let shared = Arc::clone(&shared);
                    let thread = &threads[conn as usize % threads.len()];
                    // Registered with the thread's own reactor there.
                    let Ok(client) = client.into_std() else { continue };
                    conns.spawn_on(async move {
                        let Ok(client) = tokio::net::TcpStream::from_std(client) else { return };
                        link::serve_tcp(&shared, conn, peer.port(), client).await;
                    }, thread);
                    conn += 1;
                }
                // Out of descriptors, say: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
    conns.shutdown().await;
}
