//! Connections: opening a kept-alive HTTP/1.1 connection within a timeout,
//! naming what went wrong in words, and one-off GETs for readiness probes
//! and state checks.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HOST;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::MAX_RESPONSE_BYTES;

/// Why one exchange ended without a complete answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExchangeError {
    #[error("{}", describe_hyper(.0))]
    Hyper(#[from] hyper::Error),
    #[error(transparent)]
    Body(#[from] BodyError),
}

/// A response body that could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[error("response body unreadable: {0}")]
pub(super) struct BodyError(pub(super) Box<dyn std::error::Error + Send + Sync>);

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
pub(super) async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<SendRequest<Full<Bytes>>, ConnError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(ConnError::Connect {
                addr,
                reason: e.to_string(),
            })
        }
        Err(_) => {
            return Err(ConnError::Connect {
                addr,
                reason: format!("no answer within {timeout:?}"),
            })
        }
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        match tokio::time::timeout(timeout, http1::handshake(TokioIo::new(stream))).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Err(ConnError::Handshake {
                    addr,
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ConnError::Handshake {
                    addr,
                    reason: format!("no answer within {timeout:?}"),
                })
            }
        };
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
