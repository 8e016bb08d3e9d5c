//! `--burst` really overlaps: every round's C requests are in flight at the
//! server at once, even when the server's response times vary.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{handler, index_of, serve, Answer};
use racegate::Fire;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_burst_round_is_fully_concurrent_at_the_server() {
    const C: usize = 24;
    const ROUNDS: usize = 6;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let full_overlaps = Arc::new(AtomicUsize::new(0));
    let (f, o) = (Arc::clone(&in_flight), Arc::clone(&full_overlaps));
    let addr = serve(handler(move |body| {
        let (in_flight, full) = (Arc::clone(&f), Arc::clone(&o));
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            if now == C {
                full.fetch_add(1, Ordering::SeqCst);
            }
            // Uneven service times, so workers drift apart without a barrier;
            // the shortest (150 ms) is far longer than a loaded machine
            // takes to get a round's requests to the server.
            let i = index_of(&body);
            tokio::time::sleep(Duration::from_millis(150 + (i % 5) * 25)).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Answer::Respond(200, r#"{"response": 1}"#.into())
        }
    }))
    .await;
    let report = Fire::post(format!("http://{addr}/"), r#"{"i": {i}}"#)
        .concurrency(C)
        .requests((C * ROUNDS) as u64)
        .burst()
        .run()
        .await
        .unwrap();
    report.assert_pass_rate(1.0);
    assert_eq!(report.total, (C * ROUNDS) as u64);
    assert_eq!(
        full_overlaps.load(Ordering::SeqCst),
        ROUNDS,
        "each round reached {C} requests in flight at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_last_round_sends_only_what_is_left() {
    let addr = serve(handler(|_| async { Answer::Respond(200, "{}".into()) })).await;
    let report = Fire::get(format!("http://{addr}/"))
        .concurrency(8)
        .requests(20)
        .burst()
        .run()
        .await
        .unwrap();
    assert_eq!(report.total, 20);
    report.assert_gate();
}
