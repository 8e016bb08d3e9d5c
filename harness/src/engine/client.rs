//! Connections: a [`Client`] that keeps one HTTP/1.1 connection alive and
//! sends one request at a time on it, telling every way an exchange can end
//! apart ([`Exchange`]); and one-off GETs for readiness probes and state
//! checks. The load engine's workers and `racegate kv` both send through it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use hyper::{HeaderMap, Method, Request, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Sleep;

use super::conn_error::ConnError;
use super::stream::Stream;
use super::wire::{self, Chunks, Framing, RequestHead, WireError};
use super::MAX_RESPONSE_BYTES;
use crate::nemesis::proxy::Dialer;
use crate::outcome::FailureKind;
use crate::tls::Tls;

/// How one request ended, before judging.
#[derive(Debug)]
pub enum Exchange {
    /// A complete answer.
    Answered {
        /// The status.
        status: u16,
        /// The whole body.
        body: Bytes,
        /// The `ETag` header, if the answer had one.
        etag: Option<Bytes>,
    },
    /// No complete answer: connect, timeout or indeterminate.
    Failed {
        /// Which.
        kind: FailureKind,
        /// What happened, in words.
        message: String,
    },
    /// Given up on purpose (the nemesis's `--cancel`) before an answer
    /// came: the connection was closed with the request unanswered.
    Abandoned {
        /// How long after sending.
        after: Duration,
    },
}

/// One kept-alive HTTP/1.1 connection to one address, plain or TLS,
/// reconnected when the server closes it; every connect and exchange
/// bounded by `timeout`.
///
/// The exchange runs on the caller's task, on the socket itself: the request
/// is written with one `write`, the answer parsed in place ([`super::wire`]).
/// No connection task, channel or header map per request — a load tool's
/// client is its hot path, and hyper's client, with a task per connection
/// woken for every request, cost racegate its lead over wrk.
pub struct Client {
    addr: SocketAddr,
    /// For `https://`: the connector and the server name.
    tls: Option<Tls>,
    /// The in-process fault proxy, with `--fault`.
    via: Option<Dialer>,
    timeout: Duration,
    conn: Option<Conn>,
    /// The request timeout's timer, kept across requests and moved forward
    /// for each: a fresh timer per request costs a registration in the
    /// runtime's timer wheel (and its lock) every time.
    deadline: Pin<Box<Sleep>>,
    /// The request being sent, reused.
    out: Vec<u8>,
    /// The local port of the last connection opened (0 before any): the
    /// fault proxy names the connections it broke by it.
    port: u16,
}

/// An open connection and the bytes read from it not yet consumed.
struct Conn {
    stream: Stream,
    buf: BytesMut,
}

/// A complete answer, and whether the connection can carry another request.
struct Answer {
    status: u16,
    body: Bytes,
    etag: Option<Bytes>,
    keep: bool,
}

impl Client {
    /// A client for `addr`; nothing is opened yet.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            tls: None,
            via: None,
            timeout,
            conn: None,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            out: Vec::with_capacity(512),
            port: 0,
        }
    }

    /// The same client speaking TLS (`https://`) when `tls` is given.
    pub fn with_tls(mut self, tls: Option<Tls>) -> Self {
        self.tls = tls;
        self
    }

    /// The same client going through the fault proxy `via` when given.
    pub fn through(mut self, via: Option<Dialer>) -> Self {
        self.via = via;
        self
    }

    /// The local port of the last connection opened (0 before any).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Opens the connection unless a live one is kept.
    pub async fn connect(&mut self) -> Result<(), ConnError> {
        if let Some(conn) = &mut self.conn {
            // A kept-alive connection the server closed is not a failure:
            // nothing was sent on it, so reconnect.
            if conn.is_reusable() {
                return Ok(());
            }
            self.conn = None;
        }
        self.port = 0;
        let conn = Conn::open(
            self.addr,
            self.tls.as_ref(),
            self.via.as_ref(),
            self.timeout,
        )
        .await
        .inspect_err(|e| self.port = e.port())?;
        self.port = conn.stream.port();
        self.conn = Some(conn);
        Ok(())
    }

    /// Connects if needed, then sends `req` and reads the whole answer.
    pub async fn send(&mut self, req: Request<Bytes>) -> Exchange {
        self.send_abandoning(req, None).await
    }

    /// [`send`](Self::send), giving up after `abandon` if no answer came
    /// by then.
    pub async fn send_abandoning(
        &mut self,
        req: Request<Bytes>,
        abandon: Option<Duration>,
    ) -> Exchange {
        match self.connect().await {
            Ok(()) => {
                let head = RequestHead::new(req.method(), req.uri(), req.headers(), &self.host());
                self.exchange_with(&head, req.body(), abandon).await
            }
            Err(e) => Exchange::Failed {
                kind: e.kind(),
                message: e.to_string(),
            },
        }
    }

    /// Sends `req` on the open connection and reads the whole answer.
    pub async fn exchange(&mut self, req: Request<Bytes>) -> Exchange {
        let head = RequestHead::new(req.method(), req.uri(), req.headers(), &self.host());
        self.exchange_with(&head, req.body(), None).await
    }

    /// `host:port` of the address, for a request without a `Host` header.
    fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Sends `head` with `body` on the open connection and reads the whole
    /// answer; a connection whose state is unknown afterwards is not reused.
    /// With `abandon`, gives up that long after sending if no answer came:
    /// the connection is closed, as by a client that stops waiting.
    pub async fn exchange_with(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        abandon: Option<Duration>,
    ) -> Exchange {
        let Self {
            conn,
            deadline,
            out,
            timeout,
            ..
        } = self;
        let Some(open) = conn.as_mut() else {
            return Exchange::Failed {
                kind: FailureKind::Connect,
                message: "no connection".into(),
            };
        };
        head.write(body, out);
        deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + *timeout);
        // A timer only for the requests the nemesis abandons.
        let give_up = async {
            match abandon {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            biased;
            done = open.roundtrip(out, head.is_head()) => Some(done),
            () = deadline.as_mut() => None,
            () = give_up => {
                *conn = None;
                return Exchange::Abandoned {
                    after: abandon.unwrap_or_default(),
                };
            }
        };
        match result {
            Some(Ok(answer)) => {
                if !answer.keep {
                    *conn = None;
                }
                Exchange::Answered {
                    status: answer.status,
                    body: answer.body,
                    etag: answer.etag,
                }
            }
            Some(Err(e)) => {
                *conn = None;
                Exchange::Failed {
                    kind: FailureKind::Indeterminate,
                    message: e.to_string(),
                }
            }
            None => {
                *conn = None;
                Exchange::Failed {
                    kind: FailureKind::Timeout,
                    message: format!("no complete answer within {timeout:?}"),
                }
            }
        }
    }
}

impl Conn {
    /// Connects (and shakes hands, with `tls`) within `timeout`.
    async fn open(
        addr: SocketAddr,
        tls: Option<&Tls>,
        via: Option<&Dialer>,
        timeout: Duration,
    ) -> Result<Self, ConnError> {
        Ok(Self {
            stream: Stream::open(addr, tls, via, timeout).await?,
            buf: BytesMut::with_capacity(READ_CHUNK),
        })
    }

    /// Whether another request may go out on this connection: nothing
    /// unread is left over, and the server has not closed it.
    fn is_reusable(&mut self) -> bool {
        self.buf.is_empty() && !self.stream.is_closed()
    }

    /// Reads more into the buffer; `false` when the server closed.
    async fn read_more(&mut self) -> Result<bool, ExchangeError> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// Writes `request` and reads one whole answer (skipping interim 1xx
    /// answers).
    async fn roundtrip(&mut self, request: &[u8], is_head: bool) -> Result<Answer, ExchangeError> {
        self.stream.write_all(request).await?;
        // TLS keeps records it could not write yet; TCP has nothing to flush.
        self.stream.flush().await?;
        loop {
            let head = loop {
                if let Some(head) = wire::parse_head(&self.buf, is_head)? {
                    break head;
                }
                if !self.read_more().await? {
                    return Err(ExchangeError::Closed);
                }
            };
            // Copied only when there is one: most answers have none.
            let etag = head
                .etag
                .map(|(at, len)| Bytes::copy_from_slice(&self.buf[at..at + len]));
            self.buf.advance(head.len);
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            let body = self.body(head.framing).await?;
            return Ok(Answer {
                status: head.status,
                body,
                etag,
                keep: !head.close,
            });
        }
    }

    /// Reads a body framed as `framing`, at most [`MAX_RESPONSE_BYTES`].
    async fn body(&mut self, framing: Framing) -> Result<Bytes, ExchangeError> {
        match framing {
            Framing::Empty => Ok(Bytes::new()),
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|&n| n <= MAX_RESPONSE_BYTES)
                    .ok_or(ExchangeError::TooLarge)?;
                while self.buf.len() < n {
                    if !self.read_more().await? {
                        return Err(ExchangeError::Closed);
                    }
                }
                Ok(self.buf.split_to(n).freeze())
            }
            Framing::Chunked => {
                let mut body = BytesMut::new();
                let mut state = Chunks::Size;
                loop {
                    wire::decode_chunks(&mut self.buf, &mut body, &mut state, MAX_RESPONSE_BYTES)
                        .map_err(|e| e.map_or(ExchangeError::TooLarge, ExchangeError::Wire))?;
                    if state == Chunks::Done {
                        return Ok(body.freeze());
                    }
                    if !self.read_more().await? {
                        return Err(ExchangeError::Closed);
                    }
                }
            }
            Framing::UntilClose => {
                while self.read_more().await? {
                    if self.buf.len() > MAX_RESPONSE_BYTES {
                        return Err(ExchangeError::TooLarge);
                    }
                }
                Ok(self.buf.split().freeze())
            }
        }
    }
}

/// How much the read buffer grows by.
const READ_CHUNK: usize = 16 * 1024;

/// Why one exchange ended without a complete answer.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error("connection closed before a complete answer")]
    Closed,
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("response body unreadable: length limit exceeded")]
    TooLarge,
}

/// One `GET path` on a fresh connection (TLS with `tls`), within
/// `timeout`: used for readiness probes and state checks.
pub async fn get_once(
    addr: SocketAddr,
    tls: Option<&Tls>,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Bytes), ConnError> {
    let uri: Uri = path.parse().map_err(|_| ConnError::Path(path.to_owned()))?;
    let work = async {
        let mut client = Client::new(addr, timeout).with_tls(tls.cloned());
        client.connect().await?;
        let head = RequestHead::new(&Method::GET, &uri, &HeaderMap::new(), &client.host());
        match client.exchange_with(&head, &[], None).await {
            Exchange::Answered { status, body, .. } => Ok((status, body)),
            Exchange::Failed {
                kind: FailureKind::Timeout,
                ..
            } => Err(ConnError::Timeout(timeout)),
            Exchange::Failed { message, .. } => Err(ConnError::Exchange(message)),
            Exchange::Abandoned { .. } => unreachable!("a single GET is never abandoned"),
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)))
}
