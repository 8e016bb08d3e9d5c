//! `--burst` really overlaps: every round's C requests are in flight at the
//! server at once, even when the server's response times vary, and no
//! request of a round is sent before the round before it was answered.
//!
//! Checked on events, not on time: each request is held at the server until
//! all C of its round have arrived (a round the engine did not send at once
//! never completes, and its requests answer 500 after 10 s), and on arrival
//! it checks that every request of the earlier rounds had been answered.

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
    let (arrived, _) = tokio::sync::watch::channel(0usize);
    let arrived = Arc::new(arrived);
    let answered = Arc::new(AtomicUsize::new(0));
    let early = Arc::new(AtomicUsize::new(0));
    let (a, d, e) = (
        Arc::clone(&arrived),
        Arc::clone(&answered),
        Arc::clone(&early),
    );
    let addr = serve(handler(move |body| {
        let (arrived, answered, early) = (Arc::clone(&a), Arc::clone(&d), Arc::clone(&e));
        async move {
            let mut nth = 0;
            arrived.send_modify(|n| {
                nth = *n;
                *n += 1;
            });
            let round = nth / C;
            if answered.load(Ordering::SeqCst) < round * C {
                early.fetch_add(1, Ordering::SeqCst);
            }
            let mut rx = arrived.subscribe();
            let all_here = rx.wait_for(|&n| n >= (round + 1) * C);
            let together = tokio::time::timeout(Duration::from_secs(10), all_here)
                .await
                .is_ok_and(|r| r.is_ok());
            // Uneven service times, so workers would drift apart without
            // the engine's barrier between rounds.
            tokio::time::sleep(Duration::from_millis((index_of(&body) % 5) * 10)).await;
            answered.fetch_add(1, Ordering::SeqCst);
            if together {
                Answer::Respond(200, r#"{"response": 1}"#.into())
            } else {
                Answer::Respond(500, r#"{"error": "the round never all arrived"}"#.into())
            }
        }
    }))
    .await;
    let report = Fire::post(format!("http://{addr}/"), r#"{"i": {i}}"#)
        .concurrency(C)
        .requests((C * ROUNDS) as u64)
        .burst()
        .timeout(Duration::from_secs(30))
        .run()
        .await
        .unwrap();
    report.assert_pass_rate(1.0);
    assert_eq!(report.total, (C * ROUNDS) as u64);
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "requests sent before the round before them was answered"
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
