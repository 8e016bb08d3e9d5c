//! `/livez`, `/healthz` and `/metrics`: liveness, readiness that tells the
//! truth about the database, and the Prometheus text.

mod common;
use axum::body::Body;
use axum::http::Method;
use axum::http::Request;
use common::app::App;
use common::TempDb;
use http_body_util::BodyExt;
use racegate_server::http::app;
use racegate_server::serve::build_state;
use serde_json::{json, Value};
use tower::ServiceExt;

#[tokio::test]
async fn probes_and_metrics() {
    let app = App::new();
    let (s, v) = app.get("/livez").await;
    assert_eq!((s.as_u16(), &v["status"]), (200, &json!("alive")));
    // livez touches nothing: the pool is still unbuilt.
    let (_, pool) = app.get("/api/pool").await;
    assert_eq!(pool["builds"], 0);
    let (s, v) = app.get("/healthz").await;
    assert_eq!((s.as_u16(), &v["status"]), (200, &json!("ready")));
    let (_, pool) = app.get("/api/pool").await;
    assert_eq!(pool["builds"], 1);
    assert_eq!(pool["connections_open"], 8);
    assert_eq!(pool["idle"], 8);
    app.json(Method::POST, "/api/chat", json!({"message": "m"}))
        .await;
    let (s, _, text) = app.call(Method::GET, "/metrics", None, Body::empty()).await;
    assert_eq!(s, 200);
    for needle in [
        "racegate_http_requests_total{route=\"/api/chat\",method=\"POST\",status=\"200\"} 1",
        "racegate_pool_size 8",
        "racegate_pool_in_use 0",
        "racegate_pool_idle 8",
        "racegate_pool_waiters 0",
        "racegate_pool_acquire_wait_seconds_count",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[tokio::test]
async fn healthz_is_503_when_the_database_cannot_open() {
    let db = TempDb::new();
    let mut config = db.config();
    config.db = db.dir.path().join("missing-dir").join("x.db");
    let router = app(build_state(&config));
    let resp = router
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    // Not ready: 503 (what a load balancer reads as "not ready"), not 500.
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "database_unavailable");
}
