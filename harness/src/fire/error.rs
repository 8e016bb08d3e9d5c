//! Why a run could not start.

use std::net::SocketAddr;

use crate::check::CheckError;
use crate::request::HeaderError;

/// A run could not start: usage or setup errors (the CLI's exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The URL is not usable.
    #[error("bad URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The host resolves to a non-loopback address and remote targets were
    /// not allowed.
    #[error("refusing {url}: it resolves to {addr}, which is not loopback; pass --allow-remote to load a remote host you own")]
    Remote {
        /// The URL.
        url: String,
        /// The first non-loopback address.
        addr: SocketAddr,
    },
    /// Nothing answers at the target.
    #[error("cannot reach {url} at {addr}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// The address tried.
        addr: SocketAddr,
        /// The error.
        reason: String,
    },
    /// A check that cannot be built.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// A header that cannot be sent.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// TLS cannot be set up (`--cacert` unreadable, a host that is no
    /// server name).
    #[error("{0}")]
    Tls(String),
    /// A number out of range, or options that contradict each other.
    #[error("{0}")]
    Invalid(String),
}
