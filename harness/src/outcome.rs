//! How one request can end: passed, or exactly one failure kind.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a request failed. Each failed request has exactly one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// No connection could be made.
    Connect,
    /// Connected, but the TLS handshake failed (an untrusted or expired
    /// certificate, a name mismatch, no common protocol): nothing was sent.
    Tls,
    /// No complete answer within the request timeout.
    Timeout,
    /// Sent, but the connection ended without a complete answer: it may or
    /// may not have taken effect.
    Indeterminate,
    /// An answer with a status outside the expected ones.
    Status,
    /// An answer with an expected status that failed a body check.
    Check,
}

impl FailureKind {
    /// How many kinds there are.
    pub const COUNT: usize = 6;

    /// Every kind, in report order.
    pub const ALL: [FailureKind; Self::COUNT] = [
        FailureKind::Connect,
        FailureKind::Tls,
        FailureKind::Timeout,
        FailureKind::Indeterminate,
        FailureKind::Status,
        FailureKind::Check,
    ];

    /// Whether the request got no complete answer (connect, timeout,
    /// indeterminate): what a server that went away does to a request.
    pub fn is_unanswered(self) -> bool {
        matches!(
            self,
            FailureKind::Connect
                | FailureKind::Tls
                | FailureKind::Timeout
                | FailureKind::Indeterminate
        )
    }

    /// Whether the request was never sent (no connection, or no TLS
    /// session): it cannot have taken effect.
    pub fn is_unsent(self) -> bool {
        matches!(self, FailureKind::Connect | FailureKind::Tls)
    }

    /// The lowercase name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Tls => "tls",
            FailureKind::Timeout => "timeout",
            FailureKind::Indeterminate => "indeterminate",
            FailureKind::Status => "status",
            FailureKind::Check => "check",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
