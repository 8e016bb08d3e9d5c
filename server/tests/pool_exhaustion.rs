//! Pool exhaustion: with every connection held, waiters beyond the acquire
//! timeout get 503 with Retry-After; once the connection comes back the
//! server recovers; a waiter within the timeout is served.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::TempDb;
use racegate_server::http::app;
use racegate_server::serve::build_state;
use tower::ServiceExt;

fn chat_request() -> Request<Body> {
    Request::post("/api/chat")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"message":"hi"}"#))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_beyond_the_timeout_get_503_and_the_server_recovers() {
    let db = TempDb::new();
    let mut config = db.config();
    config.pool_size = 1;
    config.acquire_timeout_ms = 150;
    let state = build_state(&config);
    let router = app(state.clone());

    // A slow handler: hold the only connection.
    let held = state.pool.acquire().await.unwrap();
    let waiters: Vec<_> = (0..8)
        .map(|_| tokio::spawn(router.clone().oneshot(chat_request())))
        .collect();
    for w in waiters {
        let resp = tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("no deadlock")
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
    }
    assert_eq!(state.pool.stats().timeouts, 8);
    assert_eq!(state.pool.stats().waiters, 0);
    drop(held);

    let resp = router.clone().oneshot(chat_request()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let stats = state.pool.stats();
    assert_eq!(
        (stats.in_use, stats.idle, stats.connections_open),
        (0, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_within_the_timeout_is_served_when_the_connection_returns() {
    let db = TempDb::new();
    let mut config = db.config();
    config.pool_size = 1;
    config.acquire_timeout_ms = 5_000;
    let state = build_state(&config);
    let router = app(state.clone());
    let held = state.pool.acquire().await.unwrap();
    let waiter = tokio::spawn(router.clone().oneshot(chat_request()));
    while state.pool.stats().waiters == 0 {
        tokio::task::yield_now().await;
    }
    drop(held);
    let resp = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_wakes_every_waiter_with_an_error() {
    let db = TempDb::new();
    let mut config = db.config();
    config.pool_size = 1;
    config.acquire_timeout_ms = 30_000;
    let state = build_state(&config);
    let held = state.pool.acquire().await.unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let pool = state.pool.clone();
            tokio::spawn(async move { pool.acquire().await.map(drop) })
        })
        .collect();
    while state.pool.stats().waiters < 4 {
        tokio::task::yield_now().await;
    }
    // The /proc reading sees the open pool (so its "nothing open" below means something).
    assert!(!common::fds::open_on(&db.path()).is_empty());
    state.pool.close().await;
    for w in waiters {
        let r = tokio::time::timeout(Duration::from_secs(5), w)
            .await
            .expect("woken")
            .unwrap();
        assert!(
            matches!(r, Err(racegate_server::pool::PoolError::Closed)),
            "{r:?}"
        );
    }
    drop(held);
    assert_eq!(
        state.pool.stats().connections_open,
        0,
        "the lent connection closes on return"
    );
    // The OS agrees: no descriptor on the database files is left.
    let open = common::fds::wait_closed(&db.path(), Duration::from_secs(5));
    assert!(open.is_empty(), "still open per /proc: {open:?}");
}
