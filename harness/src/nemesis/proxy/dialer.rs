//! The fault proxy inside `fire` and `kv`: a worker *dials* it instead of
//! connecting to the server, and gets a [`Pipe`] whose other end a pump
//! task on the worker's own thread forwards, through the faults, over a
//! real TCP connection to the server. The server sees what it would behind
//! the TCP proxy (real resets, real slow bytes); the worker is spared a
//! second socket hop per request, which on a loaded machine cost 40 % of
//! the throughput (see `docs/decisions.md`).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::pipe::{self, Pipe};
use super::{link, Broken, ProxyFault, ProxyFaultReport, Shared};

/// A handle on the in-process proxy, shared by a run's workers.
#[derive(Clone)]
pub struct Dialer {
    shared: Arc<Shared>,
    /// Set when the run is over: every pump still running ends.
    stop: Arc<watch::Sender<bool>>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dialer({})", self.shared.upstream)
    }
}

impl Dialer {
    /// The proxy in front of `upstream`, with `faults` drawn from `seed`;
    /// windows count from now. Connecting upstream is bounded by
    /// `connect_timeout`.
    pub fn new(
        upstream: SocketAddr,
        faults: Vec<ProxyFault>,
        seed: u64,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared::new(upstream, faults, seed, connect_timeout)),
            stop: Arc::new(watch::channel(false).0),
        }
    }

    /// A new connection through the proxy: connected to the server (its
    /// errors are the caller's, as a direct connect's would be), its pump
    /// running on the caller's runtime.
    pub async fn dial(&self) -> io::Result<Pipe> {
        let conn = self.shared.conns.fetch_add(1, Ordering::Relaxed);
        // Numbered from 1 (0 is "no connection yet"), wrapping as ports do.
        let id = (conn % u64::from(u16::MAX)) as u16 + 1;
        self.shared.broken.clear(id);
        let upstream = link::connect(&self.shared).await?;
        let (pipe, end) = pipe::pair(id);
        let shared = Arc::clone(&self.shared);
        let mut stopped = self.stop.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                () = link::serve(&shared, conn, id, end, upstream) => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
        Ok(pipe)
    }

    /// The connections it broke on purpose, by [`Pipe::id`].
    pub fn broken(&self) -> &Broken {
        &self.shared.broken
    }

    /// Ends every connection still open, and says what each fault did.
    pub fn stop(&self) -> Vec<ProxyFaultReport> {
        let _ = self.stop.send(true);
        self.shared.report()
    }
}
