//! How opening a connection, or a one-off request, fails: before anything
//! was sent (connect, TLS, HTTP/2 session setup) or after.

use std::net::SocketAddr;
use std::time::Duration;

use crate::outcome::FailureKind;

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
    /// Connected, but the TLS handshake failed.
    #[error("{reason}")]
    Tls {
        /// Where.
        addr: SocketAddr,
        /// Why, in one line (see [`crate::tls::describe`]).
        reason: String,
        /// The connection's local port (the fault proxy names the
        /// connections it broke by it).
        port: u16,
    },
    /// Connected, but the HTTP/2 session could not be set up (its preface,
    /// SETTINGS and first PING): nothing was sent.
    #[error("connect to {addr}: session setup: {reason}")]
    Session {
        /// Where.
        addr: SocketAddr,
        /// Why.
        reason: String,
        /// The connection's local port.
        port: u16,
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

impl ConnError {
    /// The local port of the connection that failed after it was made (0
    /// when none was).
    pub fn port(&self) -> u16 {
        match self {
            Self::Tls { port, .. } | Self::Session { port, .. } => *port,
            _ => 0,
        }
    }

    /// The failure kind of a request that could not be sent for this
    /// reason: `tls` for a failed handshake, `connect` otherwise.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Tls { .. } => FailureKind::Tls,
            _ => FailureKind::Connect,
        }
    }
}
