//! `https://` targets against the reference server serving TLS with
//! certificates made at test time: a private CA passes with `--cacert`;
//! every way a handshake fails is a `tls` failure clustered under one
//! reason; `--insecure` passes and is recorded; a kept-alive TLS connection
//! is reused after the server's session tickets; `kv` works over TLS; the
//! fault proxy's resets and slices work under TLS.

mod common;

use std::path::Path;
use std::time::Duration;

use common::certs::{Ca, ServerCert};
use racegate::engine::Client;
use racegate::history::Verdict;
use racegate::tls::{Tls, TlsOptions};
use racegate::{FailureKind, Fire, FireError};
use racegate_server::{RunningServer, ServerConfig};

fn tls_server(dir: &Path, cert: &ServerCert) -> RunningServer {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("tls.db"));
    config.tls_cert = Some(cert.cert.clone());
    config.tls_key = Some(cert.key.clone());
    RunningServer::start(config).unwrap()
}

fn https(srv: &RunningServer, path: &str) -> String {
    format!("https://{}{path}", srv.addr())
}

fn trusting(ca: &Ca) -> TlsOptions {
    TlsOptions {
        cacert: Some(ca.pem.clone()),
        insecure: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_with_cacert_and_every_request_passes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let srv = tls_server(
        dir.path(),
        &ca.issue(dir.path(), "srv", &["127.0.0.1"], false),
    );
    let report = Fire::post(
        https(&srv, "/api/chat"),
        r#"{"session_id": "s{worker}", "message": "hi {i}"}"#,
    )
    .concurrency(4)
    .requests(200)
    .expect_json_field("response")
    .tls(trusting(&ca))
    .run()
    .await
    .unwrap();
    assert_eq!(report.passed, 200, "{}", report.summary());
    assert_eq!(report.target.tls.as_ref().map(|t| t.insecure), Some(false));
}

/// Through the in-process fault proxy, TLS runs over its pipe: a reset
/// breaks one request (faulted), slices only slow the records, and every
/// request the proxy did not break passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_tls_the_proxys_resets_are_faulted_and_every_other_request_passes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let srv = tls_server(
        dir.path(),
        &ca.issue(dir.path(), "srv", &["127.0.0.1"], false),
    );
    let report = Fire::post(https(&srv, "/api/chat"), r#"{"message": "m{i}"}"#)
        .concurrency(4)
        .requests(400)
        .expect_json_field("response")
        .tls(trusting(&ca))
        .fault("reset=5%".parse().unwrap())
        .fault("slice=1..64B".parse().unwrap())
        .seed(3)
        .run()
        .await
        .unwrap();
    let faults = report.faults.as_ref().expect("faults recorded");
    let resets = faults.proxy[0].injected;
    assert!(
        resets > 0 && faults.proxy[1].injected > 0,
        "{}",
        report.summary()
    );
    assert_eq!(report.faulted, resets, "{}", report.summary());
    assert_eq!(report.passed, report.total, "{}", report.summary());
    assert_eq!(report.total + report.faulted, 400);
}

/// Each broken certificate fails every request as `tls`, in one cluster
/// whose message names the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_is_a_tls_failure_clustered_by_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let cases = [
        (
            "unknown issuer",
            ca.issue(dir.path(), "ok", &["127.0.0.1"], false),
            TlsOptions::default(),
        ),
        (
            "name mismatch",
            ca.issue(dir.path(), "other", &["other.example"], false),
            trusting(&ca),
        ),
        (
            "certificate expired",
            ca.issue(dir.path(), "old", &["127.0.0.1"], true),
            trusting(&ca),
        ),
    ];
    for (reason, cert, tls) in cases {
        let srv = tls_server(dir.path(), &cert);
        let report = Fire::get(https(&srv, "/livez"))
            .concurrency(2)
            .requests(10)
            .tls(tls)
            .run()
            .await
            .unwrap();
        assert_eq!(
            report.failures(FailureKind::Tls),
            10,
            "{reason}: {}",
            report.summary()
        );
        let [cluster] = report.failure_clusters.as_slice() else {
            panic!(
                "{reason}: one cluster expected: {:?}",
                report.failure_clusters
            )
        };
        assert_eq!(cluster.kind, FailureKind::Tls);
        assert_eq!(cluster.message, format!("TLS handshake: {reason}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skips_verification_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let srv = tls_server(
        dir.path(),
        &ca.issue(dir.path(), "old", &["other.example"], true),
    );
    let insecure = TlsOptions {
        cacert: None,
        insecure: true,
    };
    let report = Fire::get(https(&srv, "/livez"))
        .requests(5)
        .tls(insecure)
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 5, "{}", report.summary());
    assert_eq!(report.target.tls.as_ref().map(|t| t.insecure), Some(true));
    assert!(
        report.summary().contains("--insecure"),
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn an_unusable_cacert_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for path in [empty, dir.path().join("missing.pem")] {
        let tls = TlsOptions {
            cacert: Some(path.clone()),
            insecure: false,
        };
        let err = Fire::get("https://127.0.0.1:1/")
            .tls(tls)
            .run()
            .await
            .unwrap_err();
        assert!(matches!(err, FireError::Tls(_)), "{path:?}: {err}");
        assert!(err.to_string().contains("--cacert"), "{err}");
    }
}

/// A TLS 1.3 server sends session tickets after the handshake: a kept-alive
/// connection must still be reused, not reopened for every request.
#[tokio::test]
async fn a_kept_alive_tls_connection_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let srv = tls_server(
        dir.path(),
        &ca.issue(dir.path(), "srv", &["127.0.0.1"], false),
    );
    let tls = Tls::new(&trusting(&ca), "127.0.0.1", &[b"http/1.1"]).unwrap();
    let mut client = Client::new(srv.addr(), Duration::from_secs(5)).with_tls(Some(tls));
    let mut ports = Vec::new();
    for _ in 0..5 {
        let req = hyper::Request::get("/livez")
            .body(bytes::Bytes::new())
            .unwrap();
        match client.send(req).await {
            racegate::engine::Exchange::Answered { status, .. } => assert_eq!(status, 200),
            other => panic!("{other:?}"),
        }
        ports.push(client.port());
        // Long enough for the tickets to arrive before the next request.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ports.iter().all(|&p| p == ports[0] && p != 0), "{ports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_runs_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let srv = tls_server(
        dir.path(),
        &ca.issue(dir.path(), "srv", &["127.0.0.1"], false),
    );
    let spec: racegate::kv::KvSpec = serde_json::from_value(serde_json::json!({
        "read": "GET /api/settings/{key}",
        "write": "PUT /api/settings/{key}",
        "requests": 400,
        "tls": { "cacert": ca.pem },
    }))
    .unwrap();
    let run = racegate::kv::run(&https(&srv, ""), &spec, false, None)
        .await
        .unwrap();
    let h = run.report.history.as_ref().expect("a history");
    assert_eq!(h.verdict, Verdict::Linearizable, "{}", run.report.summary());
    assert_eq!(run.report.failed, 0, "{}", run.report.summary());
}
