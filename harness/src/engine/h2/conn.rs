//! One HTTP/2 connection shared by a group of workers' streams: opened by
//! the first of them, replaced by the first to find it gone, and what the
//! server's SETTINGS allowed on it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use tokio::sync::Mutex;

use crate::engine::conn_error::ConnError;
use crate::engine::stream::Stream;
use crate::nemesis::proxy::Dialer;
use crate::tls::Tls;

/// One HTTP/2 connection, shared by the streams of a group of workers and
/// reopened by the first of them to find it gone.
pub struct H2Conn {
    addr: SocketAddr,
    pub(super) tls: Option<Tls>,
    /// The in-process fault proxy, with `--fault`.
    via: Option<Dialer>,
    timeout: Duration,
    slot: Mutex<Slot>,
    /// The fewest concurrent streams any of its connections was allowed
    /// (`usize::MAX` until a server's settings were seen).
    max_streams: AtomicUsize,
}

/// The connection in use, if any, and how many have been opened.
#[derive(Default)]
struct Slot {
    generation: u64,
    send: Option<SendRequest<Bytes>>,
    port: u16,
}

impl H2Conn {
    /// A connection to `addr` (TLS with ALPN `h2` if `tls` is given, else
    /// h2c), through the fault proxy `via` if given, opened by its first
    /// user.
    pub fn new(
        addr: SocketAddr,
        tls: Option<Tls>,
        via: Option<Dialer>,
        timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            addr,
            tls,
            via,
            timeout,
            slot: Mutex::new(Slot::default()),
            max_streams: AtomicUsize::new(usize::MAX),
        })
    }

    /// The server's `MAX_CONCURRENT_STREAMS`, the lowest seen; `None`
    /// until one was seen (or when it set none).
    pub fn max_streams(&self) -> Option<usize> {
        Some(self.max_streams.load(Ordering::Relaxed)).filter(|&n| n != usize::MAX)
    }

    /// The open connection's sender, its generation and local port; a new
    /// connection if there is none or `stale` names the open one (it failed
    /// its holder).
    pub(super) async fn get(
        &self,
        stale: Option<u64>,
    ) -> Result<(u64, SendRequest<Bytes>, u16), ConnError> {
        let mut slot = self.slot.lock().await;
        if let Some(send) = &slot.send {
            if stale != Some(slot.generation) {
                return Ok((slot.generation, send.clone(), slot.port));
            }
        }
        slot.send = None;
        let addr = self.addr;
        let stream = Stream::open(addr, self.tls.as_ref(), self.via.as_ref(), self.timeout).await?;
        let port = stream.port();
        if let Stream::Tls(tls) = &stream {
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(ConnError::Tls {
                    addr,
                    reason: "TLS handshake: the server did not agree to h2 (ALPN)".into(),
                    port,
                });
            }
        }
        let failed = |reason: String| ConnError::Session { addr, reason, port };
        let (send, connection) = tokio::time::timeout(self.timeout, h2::client::handshake(stream))
            .await
            .map_err(|_| failed(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| failed(e.to_string()))?;
        let mut connection = connection;
        let ping = connection.ping_pong();
        // The connection's frames are read and written by a task of its own
        // on this thread's runtime; it ends when the connection does.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // A server states its stream limit in the SETTINGS it sends first:
        // once a ping's answer is back, they have been applied, so no
        // stream is opened over the limit (and refused) at the start.
        if let Some(mut ping) = ping {
            tokio::time::timeout(self.timeout, ping.ping(h2::Ping::opaque()))
                .await
                .map_err(|_| failed(format!("no PING answer within {:?}", self.timeout)))?
                .map_err(|e| failed(e.to_string()))?;
        }
        slot.generation += 1;
        slot.send = Some(send.clone());
        slot.port = port;
        Ok((slot.generation, send, port))
    }

    pub(super) fn saw_settings(&self, send: &SendRequest<Bytes>) {
        let allowed = send.current_max_send_streams();
        self.max_streams.fetch_min(allowed, Ordering::Relaxed);
    }
}
