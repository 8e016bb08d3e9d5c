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
    // Requests in flight when it was dropped still finish, one per worker
    // at most; nothing after them. (Counting, not timing: a loaded machine
    // can hold the workers still for a while either way, and a run that
    // did not halt would send thousands more in the second waited.)
    let at_drop = hits.load(Ordering::SeqCst);
    assert!(at_drop > 0, "the run sent something before it was dropped");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = hits.load(Ordering::SeqCst);
    assert!(
        after <= at_drop + 8,
        "{} requests arrived after the run was dropped (8 workers: at most 8 were in flight)",
        after - at_drop
    );
}
