//! The in-process proxy's client side: a pair of byte channels in memory
//! between a `fire` or `kv` worker and the proxy's pump for its connection,
//! both on the worker's thread. The pump's side to the server is a real TCP
//! connection; this side costs no system call, so the proxy adds no second
//! socket hop to every request (see `docs/decisions.md`).
//!
//! It behaves as the socket it replaces: bytes written before a close are
//! read before the end; a closed peer reads as the end (FIN), a reset one
//! as `ConnectionReset` once what was sent before it is read; writing to a
//! peer that stopped reading fails.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes a direction holds before its writer waits, as a socket buffer.
const CAPACITY: usize = 64 * 1024;

/// One direction.
#[derive(Default)]
struct Chan {
    buf: BytesMut,
    /// The writer closed (or went away): the end once `buf` is read.
    fin: bool,
    /// The reader went away: writing fails.
    gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Both directions, and whether the link was reset.
#[derive(Default)]
struct Link {
    /// Client to proxy.
    up: Mutex<Chan>,
    /// Proxy to client.
    down: Mutex<Chan>,
    reset: AtomicBool,
}

/// The client's end: it writes up and reads down.
pub struct Pipe {
    link: Arc<Link>,
    id: u16,
}

/// The proxy's end: it reads up and writes down.
pub(super) struct PumpEnd {
    link: Arc<Link>,
}

/// A new pipe; `id` names the connection (as a TCP client's port would).
pub(super) fn pair(id: u16) -> (Pipe, PumpEnd) {
    let link = Arc::new(Link::default());
    (
        Pipe {
            link: Arc::clone(&link),
            id,
        },
        PumpEnd { link },
    )
}

fn lock(chan: &Mutex<Chan>) -> std::sync::MutexGuard<'_, Chan> {
    chan.lock().unwrap_or_else(PoisonError::into_inner)
}

fn park(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset by the fault proxy",
    )
}

impl Link {
    fn read(
        &self,
        chan: &Mutex<Chan>,
        cx: &Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut c = lock(chan);
        if !c.buf.is_empty() {
            let n = c.buf.len().min(out.remaining());
            out.put_slice(&c.buf[..n]);
            c.buf.advance(n);
            if let Some(w) = c.writer.take() {
                w.wake();
            }
            return Poll::Ready(Ok(()));
        }
        if c.fin {
            return Poll::Ready(if self.reset.load(Ordering::Acquire) {
                Err(reset_error())
            } else {
                Ok(())
            });
        }
        park(&mut c.reader, cx);
        Poll::Pending
    }

    fn write(&self, chan: &Mutex<Chan>, cx: &Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut c = lock(chan);
        if self.reset.load(Ordering::Acquire) {
            return Poll::Ready(Err(reset_error()));
        }
        if c.gone || c.fin {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = CAPACITY.saturating_sub(c.buf.len());
        if room == 0 {
            park(&mut c.writer, cx);
            return Poll::Pending;
        }
        let n = data.len().min(room);
        c.buf.extend_from_slice(&data[..n]);
        if let Some(w) = c.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    /// No more bytes from this side's writer.
    fn close_write(chan: &Mutex<Chan>) {
        let mut c = lock(chan);
        c.fin = true;
        if let Some(w) = c.reader.take() {
            w.wake();
        }
    }

    /// Nobody reads from this channel any more.
    fn close_read(chan: &Mutex<Chan>) {
        let mut c = lock(chan);
        c.gone = true;
        c.buf = BytesMut::new();
        if let Some(w) = c.writer.take() {
            w.wake();
        }
    }
}

impl Pipe {
    /// The connection's number, as the proxy marks it when it breaks it.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// Whether the proxy closed it or sent something nobody asked for:
    /// then it cannot carry another request. Never waits.
    pub fn is_closed(&self) -> bool {
        let c = lock(&self.link.down);
        c.fin || !c.buf.is_empty()
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        Link::close_write(&self.link.up);
        Link::close_read(&self.link.down);
    }
}

impl PumpEnd {
    /// Closing it next resets the client's reads and writes, as a TCP RST.
    pub(super) fn reset_on_close(&self) {
        self.link.reset.store(true, Ordering::Release);
    }
}

impl Drop for PumpEnd {
    fn drop(&mut self) {
        Link::close_write(&self.link.down);
        Link::close_read(&self.link.up);
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.link.read(&self.link.down, cx, buf)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.link.write(&self.link.up, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Link::close_write(&self.link.up);
        Poll::Ready(Ok(()))
    }
}

// The pump reads one direction and writes the other at once, through
// shared references (the state is behind the channels' locks).
impl AsyncRead for &PumpEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.link.read(&self.link.up, cx, buf)
    }
}

impl AsyncWrite for &PumpEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.link.write(&self.link.down, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Link::close_write(&self.link.down);
        Poll::Ready(Ok(()))
    }
}

// And by value, for when it is not split.
impl AsyncRead for PumpEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_read(cx, buf)
    }
}

impl AsyncWrite for PumpEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_go_both_ways_and_a_close_reads_as_the_end_after_them() {
        let (mut client, pump) = pair(7);
        assert_eq!(client.id(), 7);
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = (&pump).read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
        assert!(!client.is_closed());
        (&pump).write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        assert!(client.is_closed(), "unasked-for bytes make it unusable");
        drop(pump);
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"HTTP/1.1 200 OK\r\n");
        assert!(client.is_closed());
        let write = client.write_all(b"more").await.unwrap_err();
        assert_eq!(write.kind(), io::ErrorKind::BrokenPipe);
    }

    #[tokio::test]
    async fn a_reset_is_read_after_what_came_before_it_and_fails_writes() {
        let (mut client, pump) = pair(1);
        (&pump).write_all(b"HTTP/1.1 2").await.unwrap();
        pump.reset_on_close();
        drop(pump);
        let mut buf = [0u8; 64];
        assert_eq!(client.read(&mut buf).await.unwrap(), 10);
        let e = client.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        let e = client.write_all(b"x").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn the_client_going_away_ends_the_pumps_read_and_fails_its_writes() {
        let (client, pump) = pair(1);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let n = (&pump).read(&mut buf).await.unwrap();
            let w = (&pump).write_all(b"late").await;
            (n, w.map_err(|e| e.kind()))
        });
        tokio::task::yield_now().await;
        drop(client);
        let (n, w) = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "the end, woken");
        assert_eq!(w, Err(io::ErrorKind::BrokenPipe));
    }

    #[tokio::test]
    async fn a_full_direction_holds_its_writer_until_read() {
        let (mut client, pump) = pair(1);
        let big = vec![7u8; CAPACITY + 1000];
        let writer = tokio::spawn(async move {
            client.write_all(&big).await.unwrap();
            client
        });
        let mut got = 0;
        let mut buf = vec![0u8; 4096];
        while got < CAPACITY + 1000 {
            got += (&pump).read(&mut buf).await.unwrap();
        }
        let client = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .unwrap()
            .unwrap();
        drop(client);
        assert_eq!((&pump).read(&mut buf).await.unwrap(), 0);
    }
}
