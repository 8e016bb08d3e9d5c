//! HTTP/1.1 on the wire, for the [`super::client::Client`]: a request head
//! serialised once and reused, and the framing of a response (status line
//! and headers by `httparse`; then a `Content-Length` body, a chunked body,
//! no body, or a body up to the close).
//!
//! Only the client side of RFC 9112 that a load tool needs: one request at a
//! time on a connection (no pipelining), interim 1xx answers skipped,
//! `Connection: close` and HTTP/1.0 answers honoured, every body bounded.

use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::{HeaderMap, Method, Uri};

/// The most header lines a response may carry.
const MAX_HEADERS: usize = 100;

/// The longest a response head may be.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A request line and headers, serialised once; [`write`](Self::write)
/// adds the length and the body for each request.
#[derive(Clone, Debug)]
pub struct RequestHead {
    bytes: Vec<u8>,
    /// The same request in parts, for HTTP/2: method, path and query, the
    /// `Host` (as `:authority`), and the other headers.
    method: Method,
    target: Uri,
    authority: String,
    headers: HeaderMap,
    has_length: bool,
    is_head: bool,
    /// Whether a request with no body still says `content-length: 0`
    /// (methods that normally carry a body).
    says_empty_length: bool,
}

impl RequestHead {
    /// `method uri HTTP/1.1` and `headers`. `uri` is sent as given (origin
    /// form: path and query); a `Host` header must be among `headers`
    /// (HTTP/1.1 requires one), else `host` is added.
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap, host: &str) -> Self {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(method.as_str().as_bytes());
        bytes.push(b' ');
        let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
        bytes.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\n");
        if !headers.contains_key(HOST) {
            bytes.extend_from_slice(b"host: ");
            bytes.extend_from_slice(host.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        for (name, value) in headers {
            bytes.extend_from_slice(name.as_str().as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        let mut h2_headers = headers.clone();
        let authority = match h2_headers.remove(HOST) {
            Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
            None => host.to_owned(),
        };
        Self {
            bytes,
            method: method.clone(),
            target: uri.clone(),
            authority,
            headers: h2_headers,
            has_length: headers.contains_key(CONTENT_LENGTH),
            is_head: method == Method::HEAD,
            says_empty_length: matches!(*method, Method::POST | Method::PUT | Method::PATCH),
        }
    }

    /// Method, path and query, authority and headers (without `Host`): the
    /// request as HTTP/2 sends it.
    pub(super) fn parts(&self) -> (&Method, &Uri, &str, &HeaderMap) {
        (&self.method, &self.target, &self.authority, &self.headers)
    }

    /// Whether this is a `HEAD` request (its answer has no body).
    pub fn is_head(&self) -> bool {
        self.is_head
    }

    /// The whole request with `body` into `out` (cleared first).
    pub fn write(&self, body: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        if !self.has_length && (!body.is_empty() || self.says_empty_length) {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }
}

/// How a response's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body (a `HEAD` answer, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ResponseHead {
    pub status: u16,
    pub framing: Framing,
    /// The connection cannot carry another request after this answer.
    pub close: bool,
    /// The head's length in bytes, blank line included.
    pub len: usize,
    /// Where the `ETag` header's value lies in the head (offset, length).
    pub etag: Option<(usize, usize)>,
}

/// A response that breaks HTTP/1.1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The status line or a header does not parse.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// The head is larger than [`MAX_HEAD_BYTES`].
    #[error("malformed HTTP response: head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    /// A chunk-size line does not parse.
    #[error("response body unreadable: malformed chunk")]
    BadChunk,
}

/// Parses a response head from the start of `buf`: `None` if more bytes are
/// needed. `is_head`: the request was `HEAD`.
pub(super) fn parse_head(buf: &[u8], is_head: bool) -> Result<Option<ResponseHead>, WireError> {
    // Left uninitialised: zeroing 100 headers cost more than parsing a
    // short head (perf, fire against nginx).
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(WireError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(WireError::Malformed(e.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let mut length = None;
    let mut chunked = false;
    let mut close = http10;
    let mut etag = None;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| WireError::Malformed("invalid content-length".into()))?;
            if length.is_some_and(|m| m != n) {
                return Err(WireError::Malformed("conflicting content-length".into()));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .split(|&b| b == b',')
                .next_back()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("etag") {
            let at = h.value.as_ptr() as usize - buf.as_ptr() as usize;
            etag = Some((at, h.value.len()));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    close = false;
                }
            }
        }
    }
    let framing = if is_head || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some(ResponseHead {
        status,
        framing,
        close: close || framing == Framing::UntilClose,
        len,
        etag,
    }))
}

/// Where a chunked body's decoding stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Chunks {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk: this many data bytes left, then its CRLF.
    Data(u64),
    /// After the last chunk: trailer lines up to the blank line.
    Trailers,
    /// The body is complete.
    Done,
}

/// Moves what `buf` holds of a chunked body into `body`, consuming it from
/// `buf`; stops when it needs more bytes or the body is done. `limit`
/// bounds the decoded body; `Err(None)` says it was exceeded.
pub(super) fn decode_chunks(
    buf: &mut BytesMut,
    body: &mut BytesMut,
    state: &mut Chunks,
    limit: usize,
) -> Result<(), Option<WireError>> {
    loop {
        match *state {
            Chunks::Done => return Ok(()),
            Chunks::Size => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    *state = if size == 0 {
                        Chunks::Trailers
                    } else {
                        Chunks::Data(size)
                    };
                }
                Ok(httparse::Status::Partial) => return Ok(()),
                Err(_) => return Err(Some(WireError::BadChunk)),
            },
            Chunks::Data(left) => {
                if left == 0 {
                    if buf.len() < 2 {
                        return Ok(());
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Some(WireError::BadChunk));
                    }
                    buf.advance(2);
                    *state = Chunks::Size;
                    continue;
                }
                if buf.is_empty() {
                    return Ok(());
                }
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                if body.len() + take > limit {
                    return Err(None);
                }
                body.extend_from_slice(&buf[..take]);
                buf.advance(take);
                *state = Chunks::Data(left - take as u64);
            }
            Chunks::Trailers => match buf.iter().position(|&b| b == b'\n') {
                None => return Ok(()),
                Some(end) => {
                    let blank = end == 0 || (end == 1 && buf[0] == b'\r');
                    buf.advance(end + 1);
                    if blank {
                        *state = Chunks::Done;
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> ResponseHead {
        parse_head(text.as_bytes(), false).unwrap().unwrap()
    }

    #[test]
    fn framing_follows_the_headers() {
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        assert_eq!(
            (h.status, h.framing, h.close, h.len),
            (200, Framing::Length(5), false, 38)
        );
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.close), (Framing::UntilClose, true));
        let h = head("HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n");
        assert_eq!(h.framing, Framing::Empty);
        let h =
            head("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\ncontent-length: 0\r\n\r\n");
        assert!(h.close);
        let h = head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(h.close, "HTTP/1.0 closes unless it says keep-alive");
        let h = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n");
        assert!(!h.close);
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert_eq!(h.framing, Framing::Empty, "a HEAD answer has no body");
    }

    #[test]
    fn partial_and_broken_heads() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", false),
            Ok(None)
        );
        assert!(matches!(
            parse_head(b"HTTP/1.1 abc\r\n\r\n", false),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_head(
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                false
            ),
            Err(WireError::Malformed(_))
        ));
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(
            parse_head(huge.as_bytes(), false),
            Err(WireError::HeadTooLarge)
        );
    }

    #[test]
    fn chunks_decode_across_any_split() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let (mut buf, mut body, mut state) = (BytesMut::new(), BytesMut::new(), Chunks::Size);
            buf.extend_from_slice(&wire[..split]);
            decode_chunks(&mut buf, &mut body, &mut state, 1024).unwrap();
            buf.extend_from_slice(&wire[split..]);
            decode_chunks(&mut buf, &mut body, &mut state, 1024).unwrap();
            assert_eq!(state, Chunks::Done, "split at {split}");
            assert_eq!(&body[..], b"Wikipedia");
            assert_eq!(&buf[..], b"NEXT", "the next answer's bytes stay");
        }
        let (mut buf, mut body, mut state) = (BytesMut::new(), BytesMut::new(), Chunks::Size);
        buf.extend_from_slice(b"zz\r\n");
        assert_eq!(
            decode_chunks(&mut buf, &mut body, &mut state, 1024),
            Err(Some(WireError::BadChunk))
        );
        let (mut buf, mut body, mut state) = (BytesMut::new(), BytesMut::new(), Chunks::Size);
        buf.extend_from_slice(b"a\r\n0123456789\r\n");
        assert_eq!(decode_chunks(&mut buf, &mut body, &mut state, 4), Err(None));
    }

    #[test]
    fn the_request_head_is_written_once_and_completed_per_request() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-a", "1".parse().unwrap());
        let uri: Uri = "/api/chat?x=1".parse().unwrap();
        let head = RequestHead::new(&Method::POST, &uri, &headers, "ignored");
        let mut out = Vec::new();
        head.write(b"{}", &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "POST /api/chat?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-a: 1\r\ncontent-length: 2\r\n\r\n{}"
        );
        head.write(b"", &mut out);
        assert!(String::from_utf8(out.clone())
            .unwrap()
            .ends_with("content-length: 0\r\n\r\n"));
        let get = RequestHead::new(
            &Method::GET,
            &Uri::from_static("/"),
            &HeaderMap::new(),
            "h:1",
        );
        get.write(b"", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nhost: h:1\r\n\r\n"
        );
    }
}
