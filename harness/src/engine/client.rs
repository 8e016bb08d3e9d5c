//! Connections: a [`Client`] that keeps one HTTP/1.1 connection alive and
//! sends one request at a time on it, telling every way an exchange can end
//! apart ([`Exchange`]); and one-off GETs for readiness probes and state
//! checks. The load engine's workers and `racegate kv` both send through it.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HOST;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::MAX_RESPONSE_BYTES;
use crate::outcome::FailureKind;

/// How one request ended, before judging.
#[derive(Debug)]
pub enum Exchange {
    /// A complete answer.
    Answered {
        /// The status.
        status: u16,
        /// The whole body.
        body: Bytes,
    },
    /// No complete answer: connect, timeout or indeterminate.
    Failed {
        /// Which.
        kind: FailureKind,
        /// What happened, in words.
        message: String,
    },
}

/// One kept-alive connection to one address, reconnected when the server
/// closes it; every connect and exchange bounded by `timeout`.
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    conn: Option<SendRequest<Full<Bytes>>>,
    /// The request timeout's timer, kept across requests and moved forward
    /// for each: a fresh timer per request costs a registration in the
    /// runtime's timer wheel (and its lock) every time.
    deadline: Pin<Box<Sleep>>,
}

impl Client {
    /// A client for `addr`; nothing is opened yet.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self {
            addr,
            timeout,
            conn: None,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Opens the connection unless a live one is kept.
    pub async fn connect(&mut self) -> Result<(), ConnError> {
        if let Some(conn) = &mut self.conn {
            // A kept-alive connection the server closed is not a failure:
            // nothing was sent on it, so reconnect.
            if conn.ready().await.is_ok() {
                return Ok(());
            }
            self.conn = None;
        }
        self.conn = Some(connect(self.addr, self.timeout).await?);
        Ok(())
    }

    /// Connects if needed, then sends `req` and reads the whole answer.
    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Exchange {
        match self.connect().await {
            Ok(()) => self.exchange(req).await,
            Err(e) => Exchange::Failed {
                kind: FailureKind::Connect,
                message: e.to_string(),
            },
        }
    }

    /// Sends `req` on the open connection and reads the whole answer; a
    /// connection whose state is unknown afterwards is not reused.
    pub async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Exchange {
        let Some(conn) = self.conn.as_mut() else {
            return Exchange::Failed {
                kind: FailureKind::Connect,
                message: "no connection".into(),
            };
        };
        let timeout = self.timeout;
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + timeout);
        let work = async {
            let resp = conn.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(BodyError)?
                .to_bytes();
            Ok::<_, ExchangeError>((status, body))
        };
        let result = tokio::select! {
            biased;
            done = work => Ok(done),
            () = self.deadline.as_mut() => Err(()),
        };
        match result {
            Ok(Ok((status, body))) => Exchange::Answered { status, body },
            Ok(Err(e)) => {
                self.conn = None;
                Exchange::Failed {
                    kind: FailureKind::Indeterminate,
                    message: e.to_string(),
                }
            }
            Err(_) => {
                self.conn = None;
                Exchange::Failed {
                    kind: FailureKind::Timeout,
                    message: format!("no complete answer within {timeout:?}"),
                }
            }
        }
    }
}

/// Why one exchange ended without a complete answer.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    #[error("{}", describe_hyper(.0))]
    Hyper(#[from] hyper::Error),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// A response body that could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[error("response body unreadable: {0}")]
struct BodyError(Box<dyn std::error::Error + Send + Sync>);

/// A connection or a one-off GET that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// TCP connect failed.
    #[error("connect to {addr}: {reason}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The HTTP handshake failed.
    #[error("HTTP handshake with {addr}: {reason}")]
    Handshake {
        /// Where.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The path cannot be put on a request line.
    #[error("bad path {0:?}")]
    Path(String),
    /// The exchange failed after sending.
    #[error("{0}")]
    Exchange(String),
    /// No complete answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

fn describe_hyper(e: &hyper::Error) -> String {
    let what = if e.is_incomplete_message() {
        "connection closed before a complete answer"
    } else if e.is_canceled() {
        "request canceled: the connection closed"
    } else if e.is_parse() {
        "malformed HTTP response"
    } else {
        "connection error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{what}: {source}"),
        None => format!("{what}: {e}"),
    }
}

/// Opens a kept-alive HTTP/1.1 connection, within `timeout`.
async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<SendRequest<Full<Bytes>>, ConnError> {
    // Both steps bounded by `timeout`; either failure said in words.
    let too_slow = || format!("no answer within {timeout:?}");
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(too_slow()),
    }
    .map_err(|reason| ConnError::Connect { addr, reason })?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        match tokio::time::timeout(timeout, http1::handshake(TokioIo::new(stream))).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(too_slow()),
        }
        .map_err(|reason| ConnError::Handshake { addr, reason })?;
    tokio::spawn(async move {
        // Errors surface through the sender; nothing to do here.
        let _ = connection.await;
    });
    Ok(sender)
}

/// One `GET path` on a fresh connection, within `timeout`: used for
/// readiness probes and state checks.
pub async fn get_once(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Bytes), ConnError> {
    let work = async {
        let mut conn = connect(addr, timeout).await?;
        let req = Request::get(path)
            .header(HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(|_| ConnError::Path(path.to_owned()))?;
        let resp = conn
            .send_request(req)
            .await
            .map_err(|e| ConnError::Exchange(describe_hyper(&e)))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| ConnError::Exchange(format!("response body unreadable: {e}")))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)))
}
