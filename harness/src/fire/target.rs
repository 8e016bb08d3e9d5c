//! Where the requests go: an `http://` URL parsed and resolved, refused
//! unless it is on this machine (or `--allow-remote`), and probed once so an
//! unreachable target is a setup error (exit 2) before the run starts.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::header::HeaderValue;

use super::FireError;
use crate::nemesis::proxy::{Dialer, ProxyFault};
use crate::request::Target;
use crate::tls::{Tls, TlsOptions};

/// The fault proxy a `fire` or `kv` run goes through, dialled in-process,
/// in front of `upstream`, with `faults` drawn from `seed`; `None` when
/// there are no faults. Its windows count from now.
pub fn fault_proxy(
    upstream: SocketAddr,
    faults: &[ProxyFault],
    seed: u64,
    connect_timeout: Duration,
) -> Option<Dialer> {
    (!faults.is_empty()).then(|| Dialer::new(upstream, faults.to_vec(), seed, connect_timeout))
}

/// Fails at start, with the CLI's exit code 2, if nothing listens at the
/// target.
pub async fn ensure_listening(target: &Target, timeout: Duration) -> Result<(), FireError> {
    let probe = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target.addr));
    let reason = match probe.await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {timeout:?}"),
    };
    Err(FireError::Unreachable {
        url: target.url.to_string(),
        addr: target.addr,
        reason,
    })
}

/// Parses and resolves an `http://` or `https://` URL (trusting whom
/// `tls` says, offering `h2` by ALPN if `http2`, else `http/1.1`); refuses
/// non-loopback addresses unless `allow_remote`.
pub async fn resolve_target(
    url: &str,
    allow_remote: bool,
    tls: &TlsOptions,
    http2: bool,
) -> Result<Target, FireError> {
    let bad = |reason: &str| FireError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let secure = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(bad(&format!(
                "scheme {other:?} is not supported; use http:// or https://"
            )))
        }
    };
    let host = parsed.host_str().ok_or_else(|| bad("no host"))?.to_owned();
    let tls = if secure {
        let alpn: &[u8] = if http2 { b"h2" } else { b"http/1.1" };
        Some(Tls::new(tls, &host, &[alpn]).map_err(|e| FireError::Tls(e.to_string()))?)
    } else {
        None
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
        .await
        .map_err(|e| bad(&format!("cannot resolve {host}: {e}")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| bad(&format!("{host} resolves to no address")))?;
    if !allow_remote {
        if let Some(remote) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(FireError::Remote {
                url: url.to_owned(),
                addr: *remote,
            });
        }
    }
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut path_and_query = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    let uri = path_and_query
        .parse::<hyper::Uri>()
        .map_err(|e| bad(&format!("bad path: {e}")))?;
    Ok(Target {
        authority: HeaderValue::from_str(&authority).map_err(|e| bad(&e.to_string()))?,
        uri,
        addr: first,
        url: parsed,
        tls,
    })
}
