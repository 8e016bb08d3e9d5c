//! One proxied connection: the client's bytes to the server and the
//! server's back, each chunk passed through the faults active at the time.
//!
//! A *request* here is a burst of bytes from the client (one read): an
//! HTTP/1.1 client writes a request in one go, so a reset or a stall drawn
//! for it lands on that request. Every decision is drawn from the run's
//! seed, the connection's number and the request's, so a run replays.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::pipe::PumpEnd;
use super::spec::{FaultKind, ProxyFault};
use super::Shared;
use crate::nemesis::{draw, unit};

/// The draw streams of the proxy's decisions.
const RESET: u64 = 11;
const RESET_POINT: u64 = 12;
const STALL: u64 = 13;
const JITTER: u64 = 14;
const SLICE: u64 = 15;

/// Bytes read at a time, each way.
const CHUNK: usize = 16 * 1024;

/// How a direction of the link ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Its reader reached the end (or failed): nothing was done on purpose.
    Done,
    /// Reset both ways.
    Reset,
    /// Stop forwarding; wait for the client to give up.
    Stall,
    /// Close both ways (FIN).
    Close,
}

/// Which way bytes go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

/// A reset drawn for a request, waiting for the answer: at its first byte,
/// or halfway through its first chunk.
const ARMED_NONE: u8 = 0;
const ARMED_AT_ANSWER: u8 = 1;
const ARMED_MID_ANSWER: u8 = 2;

/// What both directions of one connection share.
struct Link<'a> {
    shared: &'a Shared,
    /// The connection's own draw seed.
    seed: u64,
    requests: AtomicU64,
    bytes: AtomicU64,
    armed: AtomicU8,
}

/// How the proxy's side of a client connection is driven: a TCP socket
/// (`racegate proxy`) or the in-process pipe (`fire`, `kv`).
pub(super) trait Downstream: AsyncRead + AsyncWrite + Unpin {
    /// Its reading half.
    type Read<'a>: AsyncRead + Unpin
    where
        Self: 'a;
    /// Its writing half.
    type Write<'a>: AsyncWrite + Unpin
    where
        Self: 'a;
    /// Both halves, to drive at once.
    fn halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>);
    /// Closing it next resets it (an RST) instead of a FIN.
    fn reset_on_close(&mut self);
}

impl Downstream for TcpStream {
    type Read<'a> = tokio::net::tcp::ReadHalf<'a>;
    type Write<'a> = tokio::net::tcp::WriteHalf<'a>;

    fn halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        self.split()
    }

    fn reset_on_close(&mut self) {
        // SO_LINGER 0: closing sends RST instead of FIN. (Deprecated in
        // tokio because a non-zero linger blocks the thread on drop; a zero
        // one never waits.)
        #[allow(deprecated)]
        let _ = self.set_linger(Some(Duration::ZERO));
    }
}

impl Downstream for PumpEnd {
    type Read<'a> = &'a PumpEnd;
    type Write<'a> = &'a PumpEnd;

    fn halves(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        (self, self)
    }

    fn reset_on_close(&mut self) {
        PumpEnd::reset_on_close(self);
    }
}

/// Connects to the proxy's upstream within its connect timeout, Nagle off.
pub(super) async fn connect(shared: &Shared) -> std::io::Result<TcpStream> {
    let upstream =
        tokio::time::timeout(shared.connect_timeout, TcpStream::connect(shared.upstream))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", shared.connect_timeout),
                )
            })??;
    let _ = upstream.set_nodelay(true);
    Ok(upstream)
}

/// Proxies the TCP connection `client` (from port `port`, numbered `conn`
/// for the draws) to the upstream; closed at once if that cannot be
/// reached, as with no proxy the client would see it refused.
pub(super) async fn serve_tcp(shared: &Shared, conn: u64, port: u16, client: TcpStream) {
    shared.broken.clear(port);
    let Ok(upstream) = connect(shared).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    serve(shared, conn, port, client, upstream).await;
}

/// Proxies `client` to `upstream` until either side ends or a fault ends
/// the connection. `conn` numbers it for the draws; `id` is what the client
/// knows it by (its port), marked if a fault broke it.
pub(super) async fn serve<D: Downstream>(
    shared: &Shared,
    conn: u64,
    id: u16,
    mut client: D,
    mut upstream: TcpStream,
) {
    let link = Link {
        shared,
        seed: draw(shared.seed, conn, 10),
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        armed: AtomicU8::new(ARMED_NONE),
    };
    let end = {
        let (mut cr, mut cw) = client.halves();
        let (mut ur, mut uw) = upstream.split();
        let up = link.pump(Dir::Up, &mut cr, &mut uw);
        let down = link.pump(Dir::Down, &mut ur, &mut cw);
        tokio::pin!(up, down);
        tokio::select! {
            e = &mut up => if e == End::Done { down.await } else { e },
            e = &mut down => if e == End::Done { up.await } else { e },
        }
    };
    if end != End::Done {
        shared.broken.mark(id);
    }
    match end {
        End::Done => {}
        End::Reset => {
            client.reset_on_close();
            upstream.reset_on_close();
        }
        End::Stall => {
            // Nothing more is forwarded; the connection stays open until
            // the client closes it (its timeout) or the proxy stops.
            drop(upstream);
            let mut sink = [0u8; 1024];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        End::Close => {
            let _ = client.shutdown().await;
            let _ = upstream.shutdown().await;
        }
    }
}

impl Link<'_> {
    fn active(&self) -> impl Iterator<Item = (usize, &ProxyFault)> {
        let at = self.shared.start.elapsed();
        self.shared
            .faults
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.active(at))
    }

    fn count(&self, fault: usize) {
        self.shared.injected[fault].fetch_add(1, Ordering::Relaxed);
    }

    /// Forwards `from` to `to`, chunk by chunk, until the end or a fault.
    async fn pump<R, W>(&self, dir: Dir, from: &mut R, to: &mut W) -> End
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buf = vec![0u8; CHUNK];
        let mut next_free = Instant::now();
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return End::Done;
                }
                Ok(n) => n,
            };
            let mut chunk = &buf[..n];
            let mut then = End::Done;
            match dir {
                Dir::Up => {
                    let request = self.requests.fetch_add(1, Ordering::Relaxed);
                    if let Some(end) = self.on_request(request) {
                        return end;
                    }
                }
                Dir::Down => match self.armed.swap(ARMED_NONE, Ordering::Relaxed) {
                    ARMED_AT_ANSWER => return End::Reset,
                    ARMED_MID_ANSWER if n > 1 => {
                        chunk = &chunk[..n / 2];
                        then = End::Reset;
                    }
                    ARMED_MID_ANSWER => return End::Reset,
                    _ => {}
                },
            }
            if let Some(end) = self.forward(chunk, to, &mut next_free).await {
                return end;
            }
            if then != End::Done {
                return then;
            }
        }
    }

    /// A request from the client: is it reset or stalled?
    fn on_request(&self, request: u64) -> Option<End> {
        for (i, f) in self.active() {
            let (rate, stream) = match f.kind {
                FaultKind::Reset { rate } => (rate, RESET),
                FaultKind::Stall { rate } => (rate, STALL),
                _ => continue,
            };
            if unit(draw(self.seed, request, stream)) >= rate {
                continue;
            }
            self.count(i);
            if stream == STALL {
                return Some(End::Stall);
            }
            // Before the server sees it, after it did (at the answer's first
            // byte), or mid-answer: a third each.
            match draw(self.seed, request, RESET_POINT) % 3 {
                0 => return Some(End::Reset),
                1 => self.armed.store(ARMED_AT_ANSWER, Ordering::Relaxed),
                _ => self.armed.store(ARMED_MID_ANSWER, Ordering::Relaxed),
            }
        }
        None
    }

    /// Writes `chunk` to `to` through the shaping faults; `Some` if the
    /// connection ends here.
    async fn forward<W: AsyncWrite + Unpin>(
        &self,
        mut chunk: &[u8],
        to: &mut W,
        next_free: &mut Instant,
    ) -> Option<End> {
        let key = self.bytes.load(Ordering::Relaxed);
        let (mut slice, mut rate, mut end) = (None, None, None);
        for (i, f) in self.active() {
            match f.kind {
                FaultKind::Latency { base, jitter } => {
                    self.count(i);
                    let spread =
                        jitter.as_secs_f64() * (2.0 * unit(draw(self.seed, key, JITTER)) - 1.0);
                    let wait = (base.as_secs_f64() + spread).max(0.0);
                    if wait > 0.0 {
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    }
                }
                FaultKind::Slice { min, max } => {
                    self.count(i);
                    slice = Some((min, max));
                }
                FaultKind::Bandwidth { bytes_per_s } => {
                    self.count(i);
                    rate = Some(bytes_per_s);
                }
                FaultKind::CloseAfter { bytes } => {
                    let left = bytes.saturating_sub(key);
                    if (chunk.len() as u64) >= left {
                        self.count(i);
                        chunk = &chunk[..usize::try_from(left).unwrap_or(usize::MAX)];
                        end = Some(End::Close);
                    }
                }
                FaultKind::Reset { .. } | FaultKind::Stall { .. } => {}
            }
        }
        self.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if let Some(bytes_per_s) = rate {
            // Each direction at most `bytes_per_s`, as a link of that speed:
            // a chunk arrives once it and the ones before it have had their
            // time on the wire.
            *next_free = Instant::now().max(*next_free)
                + Duration::from_secs_f64(chunk.len() as f64 / bytes_per_s as f64);
            tokio::time::sleep_until((*next_free).into()).await;
        }
        let written = match slice {
            None => to.write_all(chunk).await,
            Some((min, max)) => {
                let mut result = Ok(());
                for size in pieces(self.seed ^ key, chunk.len(), min, max) {
                    let (piece, rest) = chunk.split_at(size);
                    result = to.write_all(piece).await;
                    if result.is_err() {
                        break;
                    }
                    chunk = rest;
                    // Each piece its own segment: let it go before the next.
                    tokio::task::yield_now().await;
                }
                result
            }
        };
        match written {
            Err(_) => Some(End::Done),
            Ok(()) => end,
        }
    }
}

/// The sizes `len` bytes are sliced into: each drawn from `min..=max`
/// (the last one what is left), summing to `len`.
fn pieces(seed: u64, len: usize, min: usize, max: usize) -> impl Iterator<Item = usize> {
    let span = (max - min + 1) as u64;
    let (mut left, mut n) = (len, 0u64);
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let size = (min + (draw(seed, n, SLICE) % span) as usize).min(left);
        left -= size;
        n += 1;
        Some(size)
    })
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn slices_are_within_bounds_and_add_up() {
        for (len, min, max) in [(200, 1, 8), (1, 1, 64), (4096, 64, 64), (10, 3, 5)] {
            let sizes: Vec<usize> = pieces(9, len, min, max).collect();
            assert_eq!(sizes.iter().sum::<usize>(), len);
            let (last, rest) = sizes.split_last().unwrap();
            assert!(rest.iter().all(|s| (min..=max).contains(s)), "{sizes:?}");
            assert!(*last >= 1 && *last <= max);
        }
        let sizes: Vec<usize> = pieces(9, 200, 1, 8).collect();
        assert!(sizes.len() >= 25, "200 bytes in pieces of at most 8");
        assert!(sizes.iter().any(|&s| s != sizes[0]), "sizes vary");
    }
}
