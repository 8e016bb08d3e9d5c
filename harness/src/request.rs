//! What each request sends: target, method, headers, and a body template with
//! `{i}` (request index), `{worker}` and `{uuid}` placeholders.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;

/// A parsed `http://` or `https://` target.
#[derive(Clone, Debug)]
pub struct Target {
    /// The URL as given.
    pub url: url::Url,
    /// `host:port`, for the `Host` header.
    pub authority: HeaderValue,
    /// Path and query, for the request line (parsed once, cloned per request).
    pub uri: hyper::Uri,
    /// Where to connect (the first resolved address).
    pub addr: SocketAddr,
    /// For `https://`: the TLS connector and server name.
    pub tls: Option<crate::tls::Tls>,
}

/// A body with placeholders, split once so rendering is a copy per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyTemplate {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Bytes),
    Index,
    Worker,
    Uuid,
}

impl BodyTemplate {
    /// Splits `body` at `{i}`, `{worker}` and `{uuid}`; other braces are kept.
    pub fn parse(body: impl Into<Bytes>) -> Self {
        let body: Bytes = body.into();
        let mut parts = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        while i < body.len() {
            let rest = &body[i..];
            let placeholder = [
                (&b"{i}"[..], Part::Index),
                (b"{worker}", Part::Worker),
                (b"{uuid}", Part::Uuid),
            ]
            .into_iter()
            .find(|(p, _)| rest.starts_with(p));
            match placeholder {
                Some((p, part)) => {
                    if literal_start < i {
                        parts.push(Part::Literal(body.slice(literal_start..i)));
                    }
                    parts.push(part);
                    i += p.len();
                    literal_start = i;
                }
                None => i += 1,
            }
        }
        if literal_start < body.len() {
            parts.push(Part::Literal(body.slice(literal_start..)));
        }
        Self { parts }
    }

    /// The body for request `index` sent by `worker`.
    pub fn render(&self, index: u64, worker: usize) -> Bytes {
        match self.parts.as_slice() {
            [] => Bytes::new(),
            [Part::Literal(b)] => b.clone(),
            parts => {
                let mut out = BytesMut::with_capacity(
                    parts
                        .iter()
                        .map(|p| match p {
                            Part::Literal(b) => b.len(),
                            _ => 36,
                        })
                        .sum(),
                );
                for p in parts {
                    match p {
                        Part::Literal(b) => out.put_slice(b),
                        Part::Index => out.put_slice(index.to_string().as_bytes()),
                        Part::Worker => out.put_slice(worker.to_string().as_bytes()),
                        Part::Uuid => {
                            out.put_slice(uuid::Uuid::new_v4().hyphenated().to_string().as_bytes())
                        }
                    }
                }
                out.freeze()
            }
        }
    }

    /// What identifies the template across runs, for merging: the text if
    /// it is short, else its length and FNV-1a hash.
    pub fn fingerprint(&self) -> String {
        let mut bytes = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(b) => bytes.extend_from_slice(b),
                Part::Index => bytes.extend_from_slice(b"{i}"),
                Part::Worker => bytes.extend_from_slice(b"{worker}"),
                Part::Uuid => bytes.extend_from_slice(b"{uuid}"),
            }
        }
        if bytes.len() <= 256 {
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                return text;
            }
        }
        let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{} bytes, fnv1a64 {hash:016x}", bytes.len())
    }

    /// Whether the template looks like JSON (for the default content type).
    pub fn looks_like_json(&self) -> bool {
        match self.parts.first() {
            Some(Part::Literal(b)) => b
                .iter()
                .find(|c| !c.is_ascii_whitespace())
                .is_some_and(|c| *c == b'{' || *c == b'['),
            _ => false,
        }
    }
}

/// Method, headers and body shared by every request of a run.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// The HTTP method.
    pub method: Method,
    /// Extra headers, in order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, if any.
    pub body: Option<BodyTemplate>,
}

impl Default for RequestSpec {
    fn default() -> Self {
        Self {
            method: Method::GET,
            headers: Vec::new(),
            body: None,
        }
    }
}

/// A header that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No colon.
    #[error("bad header {0:?}: use 'Name: value'")]
    Syntax(String),
    /// Not a valid header name.
    #[error("bad header name in {0:?}")]
    Name(String),
    /// Not a valid header value.
    #[error("bad header value in {0:?}")]
    Value(String),
}

/// Parses `Name: value`.
pub fn parse_header(spec: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
    let (name, value) = spec
        .split_once(':')
        .ok_or_else(|| HeaderError::Syntax(spec.to_owned()))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| HeaderError::Name(spec.to_owned()))?;
    let value =
        HeaderValue::from_str(value.trim()).map_err(|_| HeaderError::Value(spec.to_owned()))?;
    Ok((name, value))
}

/// Parses an HTTP method name, any case.
pub fn parse_method(name: &str) -> Result<Method, MethodError> {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| MethodError(name.to_owned()))
}

/// A method name that is not a valid HTTP token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad method {0:?}")]
pub struct MethodError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_placeholders() {
        let t = BodyTemplate::parse(r#"{"message": "hi {i} from {worker}", "id": "{uuid}"}"#);
        assert!(t.looks_like_json());
        let a = String::from_utf8(t.render(7, 3).to_vec()).unwrap();
        assert!(
            a.starts_with(r#"{"message": "hi 7 from 3", "id": ""#),
            "{a}"
        );
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
        assert_ne!(t.render(7, 3), t.render(7, 3), "uuid differs per request");
    }

    #[test]
    fn constant_bodies_are_shared() {
        let t = BodyTemplate::parse("{plain} text");
        assert_eq!(&t.render(1, 1)[..], b"{plain} text");
    }

    #[test]
    fn headers_parse() {
        let (n, v) = parse_header("X-Thing:  a b ").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-thing", "a b"));
        assert!(parse_header("novalue").is_err());
    }
}
