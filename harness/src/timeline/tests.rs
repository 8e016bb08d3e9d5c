//! The timeline's own checks: widening, exact merges.

use super::*;

fn bucket(passed: u64, failed: u64, latency_us: u64) -> Bucket {
    let mut b = Bucket::default();
    for _ in 0..passed {
        b.pass();
        b.latency.record(latency_us);
    }
    for _ in 0..failed {
        b.fail(FailureKind::Status, Some("status 500"));
    }
    b
}

#[test]
fn long_runs_widen_the_buckets_and_keep_every_count() {
    let mut t = Timeline::new(1_000_000, 100);
    let start = bucket_index(1_000_000, 100);
    for i in 0..10_000u64 {
        t.add(start + i, &bucket(2, 1, 300));
    }
    let report = t.to_report(&[(FailureKind::Status, "status 500")]);
    assert!(report.buckets.len() as u64 <= MAX_BUCKETS);
    assert_eq!(report.bucket_ms, 3200);
    let sent: u64 = report.buckets.iter().map(|b| b.sent).sum();
    let failed: u64 = report.buckets.iter().map(|b| b.failed).sum();
    assert_eq!((sent, failed), (30_000, 10_000));
    assert_eq!(report.start_unix_ms % report.bucket_ms, 0);
}

#[test]
fn wall_clock_merge_is_exact() {
    let clusters = [(FailureKind::Status, "status 500")];
    let mut one = Timeline::new(1_000_050, 100);
    let mut a = Timeline::new(1_000_050, 100);
    let mut b = Timeline::new(1_000_120, 100);
    for i in 0..30u64 {
        let bk = bucket(i % 3, i % 2, 100 + i * 37);
        one.add(10_000 + i, &bk);
        if i % 2 == 0 {
            a.add(10_000 + i, &bk)
        } else {
            b.add(10_000 + i, &bk)
        }
    }
    let a = Timeline::from_report(&a.to_report(&clusters), &clusters).unwrap();
    let b = Timeline::from_report(&b.to_report(&clusters), &clusters).unwrap();
    let mut merged = a;
    merged.absorb(b, Align::WallClock).unwrap();
    assert_eq!(merged.to_report(&clusters), one.to_report(&clusters));
}

#[test]
fn start_aligned_merge_overlays_runs() {
    let mut a = Timeline::new(1_000_000, 100);
    let mut b = Timeline::new(5_000_000, 100);
    a.add(10_003, &bucket(1, 0, 50));
    b.add(50_003, &bucket(0, 1, 50));
    a.absorb(b, Align::Start).unwrap();
    let r = a.to_report(&[]);
    assert_eq!(r.buckets.len(), 4);
    assert_eq!((r.buckets[3].passed, r.buckets[3].failed), (1, 1));
}

#[test]
fn widths_that_do_not_divide_are_refused() {
    let mut a = Timeline::new(0, 100);
    let b = Timeline::new(0, 150);
    assert_eq!(
        a.absorb(b, Align::WallClock),
        Err(TimelineError::Widths(100, 150))
    );
}

#[test]
fn a_bucket_keeps_its_clusters_apart_and_bounded() {
    let mut b = Bucket::default();
    b.fail(FailureKind::Status, Some("status 500"));
    b.fail(FailureKind::Status, Some("status 503"));
    b.fail(FailureKind::Timeout, Some("status 500"));
    b.fail(FailureKind::Status, Some("status 500"));
    // One bucket more than the bound: the last is counted, not listed.
    for i in 0..CLUSTERS_PER_BUCKET {
        b.fail(FailureKind::Check, Some(&format!("check {i}")));
    }
    b.faulted = 3;
    let mut t = Timeline::new(1_000_000, 100);
    assert_eq!(t.bucket_ms(), 100);
    let at = bucket_index(1_000_000, 100);
    t.add(at, &b);
    t.add(at, &b);
    let clusters = [
        (FailureKind::Status, "status 500"),
        (FailureKind::Status, "status 503"),
        (FailureKind::Timeout, "status 500"),
        (FailureKind::Check, "check 12"),
        (FailureKind::Check, "check 13"),
    ];
    let r = t.to_report(&clusters);
    let only = &r.buckets[0];
    assert_eq!(only.faulted, 6);
    // Only the kinds that failed are listed.
    assert_eq!(only.failed_by_kind.len(), 3, "{only:?}");
    assert_eq!(only.failed, 2 * (4 + CLUSTERS_PER_BUCKET as u64));
    assert_eq!(
        only.failed_by_cluster,
        vec![[0, 4], [1, 2], [2, 2], [3, 2]],
        "{only:?}"
    );
}

#[test]
fn the_span_widens_exactly_past_the_bound() {
    let mut t = Timeline::new(0, 1);
    for i in 0..MAX_BUCKETS {
        t.add(i, &bucket(1, 0, 10));
    }
    assert_eq!(t.bucket_ms(), 1, "{MAX_BUCKETS} buckets fit");
    t.add(MAX_BUCKETS, &bucket(1, 0, 10));
    assert_eq!(t.bucket_ms(), 2, "one more does not");
    assert_eq!(t.total().passed, MAX_BUCKETS + 1);
}

#[test]
fn recent_and_total_sum_the_right_buckets() {
    let mut t = Timeline::new(1_000, 100);
    for (i, passed) in [(10, 1), (11, 2), (12, 4), (13, 8)] {
        t.add(i, &bucket(passed, 0, 10));
    }
    assert_eq!(t.total().passed, 15);
    // At 1,399 ms the last 150 ms reach back into bucket 12 (1,200–1,299).
    assert_eq!(t.recent(1_399, 150).passed, 12);
    assert_eq!(t.recent(1_399, 10).passed, 8);
}

#[test]
fn timelines_of_two_widths_merge_on_the_wider() {
    let clusters: [(FailureKind, &str); 0] = [];
    for (first, second) in [(100, 200), (200, 100)] {
        let mut a = Timeline::new(0, first);
        let mut b = Timeline::new(0, second);
        // A pass at 0 ms and a failure at 300–399 ms: 200 ms buckets 0 and 1.
        a.add(0, &bucket(1, 0, 10));
        b.add(if second == 100 { 3 } else { 1 }, &bucket(0, 1, 10));
        a.absorb(b, Align::WallClock).unwrap();
        let r = a.to_report(&clusters);
        assert_eq!(r.bucket_ms, 200, "{first} with {second}");
        let counts: Vec<(u64, u64, u64)> = r
            .buckets
            .iter()
            .map(|b| (b.t_ms, b.passed, b.failed))
            .collect();
        assert_eq!(counts, [(0, 1, 0), (200, 0, 1)], "{first} with {second}");
    }
}

#[test]
fn a_bucket_of_faulted_requests_only_survives_the_report_round_trip() {
    let mut t = Timeline::new(1_000, 100);
    let faulted = Bucket {
        faulted: 2,
        ..Bucket::default()
    };
    t.add(10, &bucket(1, 0, 10));
    t.add(12, &faulted);
    let report = t.to_report(&[]);
    let again = Timeline::from_report(&report, &[]).unwrap().to_report(&[]);
    assert_eq!(again, report);
    assert_eq!(again.buckets[2].faulted, 2);
}

#[test]
fn faulted_is_written_only_where_something_was_faulted() {
    let mut t = Timeline::new(1_000, 100);
    t.add(10, &bucket(1, 0, 10));
    t.add(
        11,
        &Bucket {
            faulted: 1,
            ..bucket(1, 0, 10)
        },
    );
    let json = serde_json::to_value(t.to_report(&[])).unwrap();
    let buckets = json["buckets"].as_array().unwrap();
    assert!(buckets[0].get("faulted").is_none(), "{}", buckets[0]);
    assert_eq!(buckets[1]["faulted"], 1, "{}", buckets[1]);
}
