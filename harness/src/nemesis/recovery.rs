//! Did it come back, and how fast? For each fault window, the pass rate
//! inside it and the recovery time after it, read from the run's timeline.
//!
//! `recovery_ms` is the time from a window's end to the start of the first
//! timeline bucket from which every bucket's pass rate is at least the
//! recovery floor, to the end of the run (0 if none fell below it after the
//! window); `None` if the run ends below it. Buckets with nothing judged in
//! them neither break nor make a recovery.
//! It is exact to a bucket's width: 1 ms at first, doubling as a run grows.

use serde::{Deserialize, Serialize};

use crate::timeline::{BucketReport, TimelineReport};

/// A fault window of the run, judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    /// The window's start, ms from the run's start.
    pub from_ms: u64,
    /// Its end.
    pub to_ms: u64,
    /// The pass rate of the requests sent inside it; `None` if none was
    /// judged.
    pub pass_rate: Option<f64>,
    /// How long after its end the run was back above the floor for good;
    /// `None` if it never was.
    pub recovery_ms: Option<u64>,
    /// Requests judged in the buckets after the window: none means the run
    /// ended before it could see a recovery.
    #[serde(default)]
    pub judged_after: u64,
}

/// Judges the window `from_ms..to_ms` (from the run's start, at
/// `run_start_unix_ms` on the wall clock) on `timeline`, with `floor` as
/// the recovery floor.
pub fn judge_window(
    timeline: &TimelineReport,
    run_start_unix_ms: u64,
    from_ms: u64,
    to_ms: u64,
    floor: f64,
) -> WindowReport {
    let width = timeline.bucket_ms.max(1);
    // Each bucket's start, in ms from the run's start (negative: before it).
    let at = |b: &BucketReport| (timeline.start_unix_ms + b.t_ms) as i64 - run_start_unix_ms as i64;
    let (from, to) = (from_ms as i64, to_ms as i64);
    // The buckets wholly inside the window; if it is narrower than a
    // bucket, the one whose middle is in it. (A bucket that straddles an
    // edge mixes requests from both sides: on a busy run it would outweigh
    // the window's own.)
    let w = width as i64;
    let wholly = |b: &BucketReport| at(b) >= from && at(b) + w <= to;
    let any_wholly = timeline.buckets.iter().any(wholly);
    let (passed, judged) = timeline
        .buckets
        .iter()
        .filter(|b| match any_wholly {
            true => wholly(b),
            false => (from..to).contains(&(at(b) + w / 2)),
        })
        .fold((0, 0), |(p, j), b| (p + b.passed, j + b.sent));
    let pass_rate = (judged > 0).then(|| passed as f64 / judged as f64);
    // Back from the end, over the buckets that end after the window does:
    // the latest one below the floor. Recovery starts with the bucket after
    // it (empty buckets count for neither side).
    let fails = |b: &BucketReport| (b.passed as f64) < floor * b.sent as f64;
    let judged_after = timeline
        .buckets
        .iter()
        .filter(|b| at(b) + width as i64 > to)
        .map(|b| b.sent)
        .sum();
    let (mut judged_good, mut latest_failure) = (false, None);
    for b in timeline.buckets.iter().rev() {
        if at(b) + width as i64 <= to {
            break;
        }
        if b.sent == 0 {
            continue;
        }
        if fails(b) {
            latest_failure = Some(at(b));
            break;
        }
        judged_good = true;
    }
    // Nothing good judged after the latest failure (or after the window at
    // all): it did not recover, as far as the run saw.
    let recovery_ms = judged_good
        .then(|| latest_failure.map_or(0, |f| u64::try_from(f + width as i64 - to).unwrap_or(0)));
    WindowReport {
        from_ms,
        to_ms,
        pass_rate,
        recovery_ms,
        judged_after,
    }
}

/// The recovery of `w` in words: "recovered in 340 ms", "did not recover",
/// or, when the run ended with the window, that it could not tell.
pub fn recovery_words(w: &WindowReport) -> String {
    match w.recovery_ms {
        Some(ms) => format!("recovered in {ms} ms"),
        None if w.judged_after == 0 => {
            "recovery not seen: the run judged nothing after the window (run longer)".to_owned()
        }
        None => "did not recover".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A timeline of 10 ms buckets from the run's start (at 1,000 ms), one
    /// per `(passed, failed)`.
    fn timeline(buckets: &[(u64, u64)]) -> TimelineReport {
        TimelineReport {
            bucket_ms: 10,
            start_unix_ms: 1000,
            buckets: buckets
                .iter()
                .enumerate()
                .map(|(i, &(passed, failed))| BucketReport {
                    t_ms: i as u64 * 10,
                    sent: passed + failed,
                    passed,
                    failed,
                    failed_by_kind: BTreeMap::new(),
                    failed_by_cluster: Vec::new(),
                    latency_ms: None,
                    latency_bins: Vec::new(),
                    latency_max_us: 0,
                    faulted: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn recovery_is_timed_from_the_windows_end_to_the_first_good_bucket_for_good() {
        // Window 20..40 ms; failures until 60 ms; good from 60 ms on, but
        // one relapse at 70 ms: recovered for good at 80 ms.
        let t = timeline(&[
            (5, 0),
            (5, 0),
            (0, 5),
            (1, 4),
            (2, 3),
            (3, 2),
            (5, 0),
            (4, 1),
            (5, 0),
            (0, 0),
            (5, 0),
        ]);
        let w = judge_window(&t, 1000, 20, 40, 0.99);
        assert_eq!(w.pass_rate, Some(0.1));
        assert_eq!(w.recovery_ms, Some(40));
        assert_eq!(recovery_words(&w), "recovered in 40 ms");
        // A lower floor forgives the relapse (4 of 5): back at 60 ms.
        assert_eq!(judge_window(&t, 1000, 20, 40, 0.8).recovery_ms, Some(20));
    }

    #[test]
    fn buckets_straddling_a_window_edge_are_left_out_of_its_pass_rate() {
        // The run starts 1 ms after the timeline: buckets at -1, 9, 19, 29
        // ms of the run. Window 10..30: only the bucket at 19 is wholly in
        // it; the one at 9 straddles its start.
        let t = timeline(&[(5, 0), (5, 1), (0, 5), (5, 0)]);
        let w = judge_window(&t, 1001, 10, 30, 0.99);
        assert_eq!(w.pass_rate, Some(0.0));
        assert_eq!(w.recovery_ms, Some(0));
        // A window narrower than a bucket: the bucket its middle is in.
        let w = judge_window(&t, 1001, 12, 16, 0.99);
        assert_eq!(w.pass_rate, Some(5.0 / 6.0));
    }

    #[test]
    fn a_run_that_never_comes_back_or_never_broke() {
        let broken = timeline(&[(5, 0), (0, 5), (0, 5), (1, 4)]);
        let w = judge_window(&broken, 1000, 10, 20, 0.99);
        assert_eq!(w.recovery_ms, None);
        assert_eq!(recovery_words(&w), "did not recover");
        // Never broke: recovered at once (0 ms), whatever the floor.
        let fine = timeline(&[(5, 0), (5, 0), (5, 0), (5, 0)]);
        assert_eq!(judge_window(&fine, 1000, 10, 20, 0.99).recovery_ms, Some(0));
        // Nothing judged after the window: no recovery to speak of.
        // Nothing judged after the window: no recovery to speak of, and
        // the words say the run was too short to tell.
        let short = timeline(&[(5, 0), (0, 5)]);
        let w = judge_window(&short, 1000, 10, 20, 0.99);
        assert_eq!((w.recovery_ms, w.judged_after), (None, 0));
        assert!(recovery_words(&w).starts_with("recovery not seen"));
        assert_eq!(w.judged_after, 0);
        assert_eq!(judge_window(&broken, 1000, 10, 20, 0.99).judged_after, 10);
    }
}
