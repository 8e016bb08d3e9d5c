//! `--http2`: C connections × P streams against the reference server (h2c
//! and TLS with ALPN), and against small `h2` servers that limit, refuse and
//! stall streams, so each HTTP/2 failure is its own cluster and the report
//! says how many streams were really in flight.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::certs::Ca;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use racegate::{FailureKind, Fire, TlsOptions};
use racegate_server::{RunningServer, ServerConfig};
use tokio::net::TcpListener;

const CHAT: &str = r#"{"session_id": "s{worker}", "message": "hi {i}"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_streams_pass_every_check_against_the_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("h2.db"));
    let srv = RunningServer::start(config).unwrap();
    let report = Fire::post(srv.url("/api/chat"), CHAT)
        .concurrency(2)
        .http2(8)
        .requests(400)
        .expect_json_field("response")
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 400, "{}", report.summary());
    let h2 = report.load.http2.as_ref().expect("an HTTP/2 run says so");
    assert_eq!((h2.streams, h2.effective_concurrency), (8, 16), "{h2:?}");
    assert!(h2.max_concurrent_streams.is_some_and(|m| m >= 8), "{h2:?}");
    assert!(report
        .summary()
        .contains("HTTP/2: 2 connections × 8 streams"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_over_tls_is_agreed_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let cert = ca.issue(dir.path(), "srv", &["127.0.0.1"], false);
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("h2.db"));
    config.tls_cert = Some(cert.cert);
    config.tls_key = Some(cert.key);
    let srv = RunningServer::start(config).unwrap();
    let report = Fire::post(format!("https://{}/api/chat", srv.addr()), CHAT)
        .concurrency(2)
        .http2(4)
        .requests(200)
        .expect_json_field("response")
        .tls(TlsOptions {
            cacert: Some(ca.pem.clone()),
            insecure: false,
        })
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 200, "{}", report.summary());
}

/// An `h2` server on loopback with `builder`'s settings; `handle` answers
/// stream number `n` (from 0, across connections).
async fn h2_server<F>(builder: h2::server::Builder, handle: F) -> SocketAddr
where
    F: Fn(u64, http::Request<RecvStream>, SendResponse<Bytes>) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    let streams = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (builder, handle, streams) =
                (builder.clone(), Arc::clone(&handle), Arc::clone(&streams));
            tokio::spawn(async move {
                let Ok(mut conn) = builder.handshake::<_, Bytes>(tcp).await else {
                    return;
                };
                while let Some(Ok((request, respond))) = conn.accept().await {
                    handle(streams.fetch_add(1, Ordering::Relaxed), request, respond);
                }
            });
        }
    });
    addr
}

fn ok(mut respond: SendResponse<Bytes>) {
    let response = http::Response::builder().status(200).body(()).unwrap();
    if let Ok(mut body) = respond.send_response(response, false) {
        let _ = body.send_data(Bytes::from_static(b"ok"), true);
    }
}

/// The server allows 2 streams per connection: the run asked for 8 and
/// says 2 were in flight; the server never sees more than 2 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_stream_limit_lowers_the_effective_concurrency() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (f, m) = (Arc::clone(&in_flight), Arc::clone(&most));
    let mut builder = h2::server::Builder::new();
    builder.max_concurrent_streams(2);
    let addr = h2_server(builder, move |_, _request, respond| {
        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        let f = Arc::clone(&f);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            ok(respond);
        });
    })
    .await;
    let report = Fire::get(format!("http://{addr}/"))
        .concurrency(1)
        .http2(8)
        .requests(60)
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 60, "{}", report.summary());
    let h2 = report.load.http2.as_ref().unwrap();
    assert_eq!(
        (h2.max_concurrent_streams, h2.effective_concurrency),
        (Some(2), 2),
        "{h2:?}"
    );
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{} streams at once",
        most.load(Ordering::SeqCst)
    );
}

/// Every 4th stream is refused: exactly those fail, as `connect` (the
/// server did not process them), in one REFUSED_STREAM cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_streams_are_their_own_cluster() {
    let addr = h2_server(h2::server::Builder::new(), |n, _request, mut respond| {
        if n % 4 == 3 {
            respond.send_reset(Reason::REFUSED_STREAM);
        } else {
            ok(respond);
        }
    })
    .await;
    let report = Fire::get(format!("http://{addr}/"))
        .concurrency(2)
        .http2(4)
        .requests(200)
        .run()
        .await
        .unwrap();
    assert_eq!(
        report.failures(FailureKind::Connect),
        50,
        "{}",
        report.summary()
    );
    let [cluster] = report.failure_clusters.as_slice() else {
        panic!("{:?}", report.failure_clusters)
    };
    assert!(
        cluster.message.starts_with("REFUSED_STREAM"),
        "{}",
        cluster.message
    );
}

/// A server that opens no flow-control window never gets a body: each
/// request times out saying it waited for a window. (The body is larger
/// than the connection's first window, which SETTINGS cannot shrink.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_control_stall_is_a_timeout_that_says_so() {
    let mut builder = h2::server::Builder::new();
    builder.initial_window_size(0);
    let addr = h2_server(builder, |_, request, respond| {
        // Held, never read, never answered, until the test is over.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop((request, respond));
        });
    })
    .await;
    let report = Fire::post(format!("http://{addr}/"), "x".repeat(100_000))
        .concurrency(2)
        .http2(2)
        .requests(8)
        .timeout(Duration::from_millis(300))
        .run()
        .await
        .unwrap();
    assert_eq!(
        report.failures(FailureKind::Timeout),
        8,
        "{}",
        report.summary()
    );
    let [cluster] = report.failure_clusters.as_slice() else {
        panic!("{:?}", report.failure_clusters)
    };
    assert!(
        cluster.message.contains("no flow-control window"),
        "{}",
        cluster.message
    );
}

/// A server that closes each connection after 10 streams (GOAWAY), on
/// `graceful` terms (RFC 9113 §6.8: first "no more", then the last id)
/// or abruptly (the last id at once, turning away streams already sent).
/// Returns its address and how many connections it accepted.
async fn goaway_server(graceful: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                let mut served = 0;
                while let Some(Ok((_request, respond))) = conn.accept().await {
                    ok(respond);
                    served += 1;
                    match served {
                        10 if graceful => conn.graceful_shutdown(),
                        10 => conn.abrupt_shutdown(Reason::NO_ERROR),
                        _ => {}
                    }
                }
                // Until the client has read the GOAWAY and gone: a server
                // that closed at once would break the streams in flight
                // before the client learns which were processed.
                let closed = std::future::poll_fn(|cx| conn.poll_closed(cx));
                let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
            });
        }
    });
    (addr, connections)
}

/// Closed gracefully, a connection takes no new stream: the request goes
/// out on a new connection, and nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_goaway_moves_the_run_to_new_connections() {
    let (addr, connections) = goaway_server(true).await;
    let report = Fire::get(format!("http://{addr}/"))
        .concurrency(1)
        .http2(4)
        .requests(100)
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 100, "{}", report.summary());
    assert!(connections.load(Ordering::SeqCst) >= 5, "{connections:?}");
}

/// Closed abruptly (h2's abrupt shutdown sends GOAWAY and closes the
/// socket), the streams in flight break: whether the client read the
/// GOAWAY first (`connect`: not processed) or the socket broke first
/// (`indeterminate`: it cannot know), the run goes on on new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_goaway_is_its_own_cluster_and_the_run_reconnects() {
    let (addr, connections) = goaway_server(false).await;
    let report = Fire::get(format!("http://{addr}/"))
        .concurrency(1)
        .http2(4)
        .requests(100)
        .run()
        .await
        .unwrap();
    assert!(report.passed >= 60, "{}", report.summary());
    assert!(connections.load(Ordering::SeqCst) >= 6, "{connections:?}");
    assert!(report.failed > 0, "{}", report.summary());
    for c in &report.failure_clusters {
        let expected = match c.kind {
            FailureKind::Connect => "GOAWAY (NO_ERROR)",
            FailureKind::Indeterminate => "connection lost",
            _ => panic!("{c:?}"),
        };
        assert!(c.message.starts_with(expected), "{c:?}");
    }
}

/// `kv --http2`: the history is recorded over streams as over connections:
/// linearizable against the fixed server, a violation against stale reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_over_h2c_checks_the_history_the_same() {
    use racegate::history::Verdict;
    use racegate_server::bugs::Bug;
    for (bugs, verdict) in [
        (&[][..], Verdict::Linearizable),
        (&[Bug::StaleRead][..], Verdict::Violation),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("kv.db"));
        config.inject = bugs.to_vec();
        let srv = RunningServer::start(config).unwrap();
        let spec: racegate::kv::KvSpec = serde_json::from_value(serde_json::json!({
            "read": "GET /api/settings/{key}",
            "write": "PUT /api/settings/{key}",
            "requests": 2000,
            "concurrency": 2,
            "http2": 8,
            "seed": 7,
        }))
        .unwrap();
        let run = racegate::kv::run(&srv.url(""), &spec, false, None)
            .await
            .unwrap();
        let report = &run.report;
        assert_eq!(
            report.passed,
            report.total,
            "{bugs:?}: {}",
            report.summary()
        );
        assert_eq!(
            report.history.as_ref().unwrap().verdict,
            verdict,
            "{bugs:?}"
        );
        let h2 = report.load.http2.as_ref().expect("an HTTP/2 run says so");
        assert_eq!(h2.effective_concurrency, 16, "{h2:?}");
    }
}
