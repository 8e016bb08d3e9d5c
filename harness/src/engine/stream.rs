//! A connection's byte stream: plain TCP, the in-process fault proxy's pipe
//! (`--fault`), or TLS over either. Opening one (connect, then the
//! handshake, within one timeout) tells a refused connection from a failed
//! handshake, and [`Stream::is_closed`] tells whether a kept-alive
//! connection can carry another request.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::conn_error::ConnError;
use crate::nemesis::proxy::{Dialer, Pipe};
use crate::tls::{self, Tls};

/// Plain TCP, the fault proxy's pipe, or TLS over either.
pub enum Stream {
    /// `http://`.
    Plain(TcpStream),
    /// `http://` through the in-process fault proxy.
    Piped(Pipe),
    /// `https://` (boxed: a TLS session is some KiB, a `TcpStream` a word).
    Tls(Box<TlsStream<Stream>>),
}

impl Stream {
    /// Connects to `addr` (through the fault proxy `via`, if given), with
    /// Nagle off (one request, one write), and with `tls` completes the
    /// handshake; both within `timeout`.
    pub async fn open(
        addr: SocketAddr,
        tls: Option<&Tls>,
        via: Option<&Dialer>,
        timeout: Duration,
    ) -> Result<Self, ConnError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let connect = async {
            match via {
                Some(proxy) => proxy.dial().await.map(Self::Piped),
                None => TcpStream::connect(addr).await.map(|tcp| {
                    let _ = tcp.set_nodelay(true);
                    Self::Plain(tcp)
                }),
            }
        };
        let inner = match tokio::time::timeout_at(deadline, connect).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
        .map_err(|reason| ConnError::Connect { addr, reason })?;
        let Some(tls) = tls else {
            return Ok(inner);
        };
        let port = inner.port();
        let handshake = tls.connector().connect(tls.name(), inner);
        match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(stream)) => Ok(Self::Tls(Box::new(stream))),
            Ok(Err(e)) => Err(ConnError::Tls {
                addr,
                reason: tls::describe(&e),
                port,
            }),
            Err(_) => Err(ConnError::Tls {
                addr,
                reason: format!("TLS handshake: no answer within {timeout:?}"),
                port,
            }),
        }
    }

    /// The connection's local port, or its pipe's number through the fault
    /// proxy (0 if unknown): the proxy marks the connections it broke by it.
    pub fn port(&self) -> u16 {
        match self {
            Self::Plain(s) => s.local_addr().map_or(0, |a| a.port()),
            Self::Piped(p) => p.id(),
            Self::Tls(s) => s.get_ref().0.port(),
        }
    }

    /// Whether the peer closed the connection (or sent something nobody
    /// asked for) while it sat idle: then it cannot carry another request.
    /// Never waits. (tokio only asks the socket when it has seen it readable
    /// since the last read.)
    pub fn is_closed(&mut self) -> bool {
        match self {
            Self::Plain(s) => {
                let mut probe = [0u8; 1];
                !matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Self::Piped(p) => p.is_closed(),
            // A TLS 1.3 server sends its session tickets after the
            // handshake: reading processes them and yields no data, which
            // is not a close. A close_notify or EOF reads as 0 bytes.
            Self::Tls(s) => {
                let mut probe = [0u8; 1];
                let mut buf = ReadBuf::new(&mut probe);
                let mut cx = Context::from_waker(Waker::noop());
                !matches!(
                    Pin::new(&mut **s).poll_read(&mut cx, &mut buf),
                    Poll::Pending
                )
            }
        }
    }
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Piped(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Piped(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Piped(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Piped(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}
