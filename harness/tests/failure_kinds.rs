//! Against a server that fails in a known pattern, every failure kind and the
//! pass rate are counted exactly, and clusters group them by cause.

mod common;

use std::time::Duration;

use common::{handler, index_of, serve, Answer};
use racegate::{FailureKind, Fire};

/// Request `i`: every 7th a 500, every 11th a 200 without the field, every
/// 13th never answered, every 17th hung up on; the rest pass.
fn expected(i: u64) -> Option<FailureKind> {
    if i % 7 == 0 {
        Some(FailureKind::Status)
    } else if i % 11 == 0 {
        Some(FailureKind::Check)
    } else if i % 13 == 0 {
        Some(FailureKind::Timeout)
    } else if i % 17 == 0 {
        Some(FailureKind::Indeterminate)
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_per_failure_kind_and_pass_rate_are_exact() {
    let addr = serve(handler(|body| async move {
        let i = index_of(&body);
        match expected(i) {
            Some(FailureKind::Status) => {
                Answer::Respond(500, format!(r#"{{"error": "boom on request {i}"}}"#))
            }
            Some(FailureKind::Check) => Answer::Respond(200, r#"{"other": 1}"#.into()),
            Some(FailureKind::Timeout) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Answer::Hangup
            }
            Some(FailureKind::Indeterminate) => Answer::Hangup,
            _ => Answer::Respond(200, format!(r#"{{"response": "ok {i}"}}"#)),
        }
    }))
    .await;
    let n = 600;
    let report = Fire::post(format!("http://{addr}/chat"), r#"{"i": {i}}"#)
        .concurrency(16)
        .requests(n)
        .timeout(Duration::from_millis(300))
        .expect_json_field("response")
        .run()
        .await
        .unwrap();

    for kind in FailureKind::ALL {
        let want = (0..n).filter(|&i| expected(i) == Some(kind)).count() as u64;
        assert_eq!(report.failures(kind), want, "{kind}: {}", report.summary());
    }
    let passed = (0..n).filter(|&i| expected(i).is_none()).count() as u64;
    assert_eq!(report.total, n);
    assert_eq!(report.passed, passed);
    assert_eq!(report.pass_rate, passed as f64 / n as f64);
    let [lo, hi] = report.pass_rate_ci95;
    assert!(lo < report.pass_rate && report.pass_rate < hi);
    assert!(!report.gate.passed);

    // One cluster per cause, whatever the request numbers in the messages.
    let status: Vec<_> = report
        .failure_clusters
        .iter()
        .filter(|c| c.kind == FailureKind::Status)
        .collect();
    assert_eq!(status.len(), 1, "{status:?}");
    assert!(
        status[0].message.contains("status 500"),
        "{}",
        status[0].message
    );
    assert!(
        status[0].message.contains("boom on request <n>"),
        "{}",
        status[0].message
    );
    assert_eq!(status[0].examples.len(), 5);
    assert_eq!(
        status[0].examples[0].request, 0,
        "examples are the first requests"
    );
    assert_eq!(status[0].examples[0].status, Some(500));
    assert_eq!(
        report.status_codes[&500],
        report.failures(FailureKind::Status)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_goes_away_is_connect_failures_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Passes the start-up reachability check, then disappears.
    let fire = Fire::get(format!("http://{addr}/"))
        .concurrency(4)
        .requests(40)
        .timeout(Duration::from_millis(500));
    let config = fire.resolve().await.unwrap();
    drop(listener);
    let report = racegate::fire::run_config(config, Default::default())
        .await
        .unwrap();
    assert_eq!(
        report.failures(FailureKind::Connect),
        40,
        "{}",
        report.summary()
    );
    assert_eq!(report.failure_clusters.len(), 1);
    assert!(
        report.failure_clusters[0].message.contains("<addr>:<port>"),
        "{}",
        report.failure_clusters[0].message
    );
}
