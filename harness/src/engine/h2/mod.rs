//! HTTP/2 for the load engine (`--http2`), on the `h2` crate: C connections
//! ([`H2Conn`]), each carrying the streams of P workers ([`H2Client`]), so a
//! run has C × P requests in flight — as many as the server's
//! `MAX_CONCURRENT_STREAMS` allows (`h2` holds a stream back until one is
//! free; [`H2Conn::max_streams`] says what the server allowed).
//!
//! Over `https://` the protocol is agreed by ALPN (`h2`); over `http://`
//! with prior knowledge (h2c). A worker that gives up on a request (the
//! nemesis's `--cancel`) resets its stream (`RST_STREAM CANCEL`), as an
//! HTTP/2 client that stops waiting does; the connection stays.
//!
//! How a stream can fail, told apart so each is its own cluster:
//! `REFUSED_STREAM` and a `GOAWAY` above the stream's id mean the server
//! did not process it (kind `connect`: nothing took effect; a stream a
//! graceful close turned away is first sent once more, on a new
//! connection); any other
//! reset or a lost connection is `indeterminate`; a body that waited for a
//! flow-control window past the timeout is a `timeout` that says so.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use h2::{Reason, SendStream};
use http::header::{CONNECTION, CONTENT_LENGTH, ETAG, TRANSFER_ENCODING, UPGRADE};
use http::uri::Scheme;
use tokio::time::Sleep;

use super::client::Exchange;
use super::conn_error::ConnError;
use super::wire::RequestHead;
use super::MAX_RESPONSE_BYTES;
use crate::outcome::FailureKind;

mod conn;

pub use conn::H2Conn;

/// What a timed-out stream was waiting for: a stream slot under the
/// server's limit, a flow-control window to send the body, or the answer.
/// (An atomic, not a `Cell`: the worker's future must be `Send`.)
struct Phase(AtomicU8);

impl Phase {
    const STREAM: u8 = 0;
    const WINDOW: u8 = 1;
    const ANSWER: u8 = 2;

    fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's streams on a shared [`H2Conn`], one request at a time.
pub struct H2Client {
    conn: Arc<H2Conn>,
    scheme: Scheme,
    held: Option<(u64, SendRequest<Bytes>)>,
    /// The generation that failed this worker, to be replaced.
    stale: Option<u64>,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    port: u16,
}

/// Why a stream ended without a complete answer.
enum Failure {
    Conn(ConnError),
    H2(h2::Error),
    TooLarge,
}

impl From<ConnError> for Failure {
    fn from(e: ConnError) -> Self {
        Self::Conn(e)
    }
}

impl From<h2::Error> for Failure {
    fn from(e: h2::Error) -> Self {
        Self::H2(e)
    }
}

struct Answer {
    status: u16,
    body: Bytes,
    etag: Option<Bytes>,
}

impl H2Client {
    /// A worker's client on `conn`, each request bounded by `timeout`.
    pub fn new(conn: Arc<H2Conn>, timeout: Duration) -> Self {
        let scheme = if conn.tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        Self {
            conn,
            scheme,
            held: None,
            stale: None,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            port: 0,
        }
    }

    /// The local port of the connection in use (0 before any).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Takes the shared connection, opening it if needed.
    pub async fn connect(&mut self) -> Result<(), ConnError> {
        if self.held.is_none() {
            let (generation, send, port) = self
                .conn
                .get(self.stale.take())
                .await
                .inspect_err(|e| self.port = e.port())?;
            self.held = Some((generation, send));
            self.port = port;
        }
        Ok(())
    }

    /// Sends `head` with `body` on a new stream and reads the whole answer;
    /// with `abandon`, resets the stream that long after sending if no
    /// answer came.
    pub async fn exchange_with(
        &mut self,
        head: &RequestHead,
        body: &[u8],
        abandon: Option<Duration>,
    ) -> Exchange {
        // Built once; again only for the rare second attempt (an
        // `http::Request` is not `Clone`).
        let mut first = match request(head, &self.scheme, body.len()) {
            Ok(r) => Some(r),
            Err(e) => {
                return failed(
                    FailureKind::Connect,
                    format!("cannot send over HTTP/2: {e}"),
                )
            }
        };
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + self.timeout);
        let give_up = async {
            match abandon {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        let phase = Phase(AtomicU8::new(Phase::STREAM));
        let Self {
            conn,
            scheme,
            held,
            stale,
            timeout,
            deadline,
            port,
        } = self;
        // A connection the server is closing (GOAWAY) or has lost takes no
        // new stream; nothing was sent on it, so the request goes out once
        // more on a new connection, as HTTP/1.1 reconnects when the server
        // closed a kept-alive one.
        let work = async {
            for attempt in 0..2 {
                if held.is_none() {
                    let (generation, send, local) = conn
                        .get(stale.take())
                        .await
                        .inspect_err(|e| *port = e.port())?;
                    *held = Some((generation, send));
                    *port = local;
                }
                let (generation, send) = held.clone().expect("just taken");
                let req = match first.take() {
                    Some(req) => req,
                    None => request(head, scheme, body.len()).expect("built once already"),
                };
                match open(send, req, body.is_empty()).await {
                    Ok(opened) => match answer(opened, body, &phase).await {
                        // Turned away by a graceful GOAWAY (its id above the
                        // last the server will process): not processed, and
                        // safe to send again (RFC 9113 §8.7), as HTTP/2
                        // clients do — nginx does this after every
                        // `keepalive_requests` streams on a connection.
                        Err(Failure::H2(e)) if attempt == 0 && turned_away(&e) => {
                            *held = None;
                            *stale = Some(generation);
                            phase.set(Phase::STREAM);
                        }
                        done => return done,
                    },
                    Err(e) if attempt == 0 && (e.is_go_away() || e.is_io()) => {
                        *held = None;
                        *stale = Some(generation);
                    }
                    Err(e) => return Err(Failure::H2(e)),
                }
            }
            unreachable!("the second attempt returns")
        };
        let result = tokio::select! {
            biased;
            done = work => Some(done),
            () = deadline.as_mut() => None,
            // Dropping the stream resets it (CANCEL).
            () = give_up => return Exchange::Abandoned { after: abandon.unwrap_or_default() },
        };
        match result {
            Some(Ok(answer)) => {
                if let Some((_, send)) = held {
                    conn.saw_settings(send);
                }
                Exchange::Answered {
                    status: answer.status,
                    body: answer.body,
                    etag: answer.etag,
                }
            }
            Some(Err(Failure::TooLarge)) => failed(
                FailureKind::Indeterminate,
                "response body unreadable: length limit exceeded".into(),
            ),
            Some(Err(Failure::Conn(e))) => failed(e.kind(), e.to_string()),
            Some(Err(Failure::H2(e))) => {
                let (kind, message, gone) = classify(&e, phase.get() == Phase::STREAM);
                if gone {
                    if let Some((generation, _)) = held.take() {
                        *stale = Some(generation);
                    }
                }
                failed(kind, message)
            }
            None => {
                let message = match phase.get() {
                    Phase::STREAM => {
                        format!("no stream free under the server's stream limit within {timeout:?}")
                    }
                    Phase::WINDOW => {
                        format!("no flow-control window to send the body within {timeout:?}")
                    }
                    _ => format!("no complete answer within {timeout:?}"),
                };
                failed(FailureKind::Timeout, message)
            }
        }
    }
}

fn failed(kind: FailureKind, message: String) -> Exchange {
    Exchange::Failed { kind, message }
}

/// `head` as an HTTP/2 request: the path under `scheme://authority`, the
/// headers without the connection-specific ones HTTP/2 forbids.
fn request(
    head: &RequestHead,
    scheme: &Scheme,
    body_len: usize,
) -> Result<http::Request<()>, http::Error> {
    let (method, target, authority, headers) = head.parts();
    let path = target.path_and_query().map_or("/", |pq| pq.as_str());
    let uri = http::Uri::builder()
        .scheme(scheme.clone())
        .authority(authority)
        .path_and_query(if path.is_empty() { "/" } else { path })
        .build()?;
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(())?;
    let out = request.headers_mut();
    for (name, value) in headers {
        if ![CONNECTION, TRANSFER_ENCODING, UPGRADE].contains(name) && name != "keep-alive" {
            out.append(name.clone(), value.clone());
        }
    }
    if body_len > 0 && !out.contains_key(CONTENT_LENGTH) {
        out.insert(CONTENT_LENGTH, body_len.into());
    }
    Ok(request)
}

/// A stream opened with its head sent: the answer to come, and the
/// stream to send the body on.
type Opened = (h2::client::ResponseFuture, SendStream<Bytes>);

/// Opens a stream once the server's limit allows and sends the head.
async fn open(
    send: SendRequest<Bytes>,
    request: http::Request<()>,
    end: bool,
) -> Result<Opened, h2::Error> {
    let mut send = send.ready().await?;
    send.send_request(request, end)
}

/// Sends the body on an opened stream and reads the whole answer.
async fn answer(opened: Opened, body: &[u8], phase: &Phase) -> Result<Answer, Failure> {
    let (response, mut stream) = opened;
    if !body.is_empty() {
        phase.set(Phase::WINDOW);
        send_body(&mut stream, Bytes::copy_from_slice(body)).await?;
    }
    phase.set(Phase::ANSWER);
    let response = response.await?;
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get(ETAG)
        .map(|v| Bytes::copy_from_slice(v.as_bytes()));
    let mut recv = response.into_body();
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        let len = first.as_ref().map_or(0, Bytes::len) + more.len() + chunk.len();
        if len > MAX_RESPONSE_BYTES {
            return Err(Failure::TooLarge);
        }
        // Most answers are one DATA frame: kept as it came, not copied.
        match &first {
            None => first = Some(chunk),
            Some(f) => {
                if more.is_empty() {
                    more.extend_from_slice(f);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    let body = if more.is_empty() {
        first.unwrap_or_default()
    } else {
        more.freeze()
    };
    Ok(Answer { status, body, etag })
}

/// Sends `body` as the flow-control windows allow.
async fn send_body(stream: &mut SendStream<Bytes>, mut body: Bytes) -> Result<(), Failure> {
    while !body.is_empty() {
        stream.reserve_capacity(body.len());
        match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(0)) => continue,
            Some(Ok(n)) => {
                let chunk = body.split_to(n.min(body.len()));
                stream.send_data(chunk, body.is_empty())?;
            }
            Some(Err(e)) => return Err(e.into()),
            // The stream was reset: its answer says how.
            None => return Ok(()),
        }
    }
    Ok(())
}

/// Whether a stream was turned away by a graceful close (a `GOAWAY` with
/// `NO_ERROR` from the server above its id): it was not processed.
fn turned_away(e: &h2::Error) -> bool {
    e.is_go_away() && e.is_remote() && e.reason() == Some(Reason::NO_ERROR)
}

/// A stream's failure as a kind and a one-line message (the same for one
/// cause), and whether the connection is gone (`unsent`: it failed before
/// the request went out).
fn classify(e: &h2::Error, unsent: bool) -> (FailureKind, String, bool) {
    let reason = e.reason().unwrap_or(Reason::NO_ERROR);
    if e.is_go_away() {
        let kind = if unsent || e.is_remote() {
            FailureKind::Connect
        } else {
            FailureKind::Indeterminate
        };
        return (
            kind,
            format!("GOAWAY ({reason:?}): the server is closing the connection"),
            true,
        );
    }
    if e.is_reset() && reason == Reason::REFUSED_STREAM {
        return (
            FailureKind::Connect,
            "REFUSED_STREAM: the server did not process the request".into(),
            false,
        );
    }
    if e.is_reset() {
        return (
            FailureKind::Indeterminate,
            format!("stream reset by the server ({reason:?})"),
            false,
        );
    }
    let kind = if unsent {
        FailureKind::Connect
    } else {
        FailureKind::Indeterminate
    };
    (kind, format!("connection lost: {e}"), true)
}
