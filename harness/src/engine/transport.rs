//! A worker's way to the server: one HTTP/1.1 connection of its own
//! ([`Client`]), or streams on an HTTP/2 connection it shares with the
//! other workers of its group ([`H2Client`]).

use std::time::Duration;

use bytes::Bytes;
use hyper::Request;

use super::client::{Client, Exchange};
use super::conn_error::ConnError;
use super::h2::H2Client;
use super::wire::RequestHead;

/// HTTP/1.1 or HTTP/2.
pub enum Transport {
    /// A kept-alive HTTP/1.1 connection.
    H1(Client),
    /// Streams on a shared HTTP/2 connection.
    H2(H2Client),
}

impl Transport {
    /// Opens (or takes) the connection unless one is in hand.
    pub async fn connect(&mut self) -> Result<(), ConnError> {
        match self {
            Self::H1(c) => c.connect().await,
            Self::H2(c) => c.connect().await,
        }
    }

    /// Sends `head` with `body` and reads the whole answer, giving up after
    /// `abandon` if given.
    pub async fn exchange_with(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        abandon: Option<Duration>,
    ) -> Exchange {
        match self {
            Self::H1(c) => c.exchange_with(head, body, abandon).await,
            Self::H2(c) => c.exchange_with(head, body, abandon).await,
        }
    }

    /// Connects if needed, then sends `req` (its `Host` header, else
    /// `host`, names the server) and reads the whole answer, giving up
    /// after `abandon` if given.
    pub async fn send_abandoning(
        &mut self,
        req: Request<Bytes>,
        host: &str,
        abandon: Option<Duration>,
    ) -> Exchange {
        if let Err(e) = self.connect().await {
            return Exchange::Failed {
                kind: e.kind(),
                message: e.to_string(),
            };
        }
        let head = RequestHead::new(req.method(), req.uri(), req.headers(), host);
        self.exchange_with(&head, req.body(), abandon).await
    }

    /// The local port of the connection in use (0 before any).
    pub fn port(&self) -> u16 {
        match self {
            Self::H1(c) => c.port(),
            Self::H2(c) => c.port(),
        }
    }
}
