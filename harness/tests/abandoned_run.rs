//! A run whose caller gives up on it (its future dropped: a timeout around
//! it, `repro` interrupted) stops sending. The workers run on threads of
//! their own, so nothing ends them with the caller's task.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{handler, serve, Answer};
use racegate::Fire;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_run_sends_nothing_more() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let addr = serve(handler(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Answer::Respond(200, "{}".into()) }
    }))
    .await;
    let run = Fire::get(format!("http://{addr}/"))
        .concurrency(8)
        .duration(Duration::from_secs(60))
        .run();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), run)
            .await
            .is_err(),
        "a 60 s run cannot be over in 300 ms"
    );
    // Requests in flight when it was dropped still finish: wait until the
    // count holds still for 200 ms (on a loaded machine that can take a
    // while; without the halt it never does).
    let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut settled = hits.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = hits.load(Ordering::SeqCst);
        if now == settled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "requests kept coming for 5 s after the run was dropped"
        );
        settled = now;
    }
    assert!(settled > 0, "the run sent something before it was dropped");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        settled,
        "requests kept coming after the run was dropped"
    );
}
