//! How a violation is told: the anomaly named and the operations shown are
//! the ones that prove it, for the cases the verdict tests do not reach (a
//! stale read only a second read shows, compare-and-sets over a value that
//! comes back, the file formats' clocks).

use std::time::Duration;

use racegate::history::parse::parse;
use racegate::history::{check, check_as, Algorithm, Anomaly, Model, Op, OpKind, Outcome, Verdict};

fn op(kind: OpKind, value: Option<u64>, expected: Option<u64>, from: u64, to: u64) -> Op {
    Op {
        key: "k".into(),
        kind,
        value,
        expected,
        text: None,
        invoke_us: from,
        complete_us: Some(to),
        outcome: Outcome::Ok,
    }
}

fn w(v: u64, from: u64, to: u64) -> Op {
    op(OpKind::Write, Some(v), None, from, to)
}

fn r(v: u64, from: u64, to: u64) -> Op {
    op(OpKind::Read, Some(v), None, from, to)
}

/// Write 2 is still in flight when both reads run, so no write completed
/// between write 1 and the second read: only the first read (which saw 2)
/// shows that the second (which saw 1) is stale.
#[test]
fn a_read_older_than_an_earlier_read_is_a_stale_read_after_that_read() {
    let ops = [w(1, 0, 1), w(2, 2, 20), r(2, 5, 6), r(1, 7, 8)];
    let c = check(&ops, Duration::from_secs(5)).unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_eq!(cx.anomaly, Anomaly::StaleRead, "{cx:?}");
    assert!(
        cx.explanation
            .contains("after an earlier read (done at 0.006 ms) had returned the newer 2"),
        "{}",
        cx.explanation
    );
    let mut shown = cx.ops.clone();
    shown.sort_by_key(|o| o.invoke_us);
    assert_eq!(shown, ops.to_vec());
}

/// Value 1 is written twice, so two compare-and-sets from 1 may both
/// succeed: that is no lost update. The history still breaks (a read of 2
/// after the register became 3), and is told as something else.
#[test]
fn two_cas_from_a_value_written_twice_are_no_lost_update() {
    let cas = |expected: u64, new: u64, from: u64, to: u64| {
        op(OpKind::Cas, Some(new), Some(expected), from, to)
    };
    let ops = [
        w(1, 0, 1),
        cas(1, 2, 2, 3),
        w(1, 4, 5),
        cas(1, 3, 6, 7),
        r(2, 8, 9),
    ];
    let c = check_as(
        &ops,
        Model::CasRegister,
        Duration::from_secs(5),
        Algorithm::Auto,
    )
    .unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_ne!(cx.anomaly, Anomaly::LostUpdate, "{cx:?}");
    assert!(
        !cx.explanation.contains("compare-and-sets"),
        "{}",
        cx.explanation
    );
    // Without the repeated value, the same two successes are the lost update.
    let lost = [w(1, 0, 1), cas(1, 2, 2, 3), cas(1, 3, 6, 7)];
    let c = check_as(
        &lost,
        Model::CasRegister,
        Duration::from_secs(5),
        Algorithm::Auto,
    )
    .unwrap();
    assert_eq!(c.counterexample.unwrap().anomaly, Anomaly::LostUpdate);
}

/// racegate's own lines carry a clock; Jepsen's carry line numbers.
#[test]
fn a_file_says_whether_its_times_are_a_clock() {
    let own =
        r#"{"key":"k","kind":"write","value":1,"invoke_us":10,"complete_us":20,"outcome":"ok"}"#;
    assert!(parse(own).unwrap().clocked);
    let jepsen = "INFO  jepsen.util - 0 :invoke :write 1\nINFO  jepsen.util - 0 :ok :write 1\n";
    let parsed = parse(jepsen).unwrap();
    assert!(!parsed.clocked);
    assert_eq!(parsed.ops.len(), 1);
}

fn sorted(mut ops: Vec<Op>) -> Vec<Op> {
    ops.sort_by_key(|o| (o.invoke_us, o.value));
    ops
}

/// Writes 1 and 2 overlap, and reads after both see 1, then 2, then 1: the
/// zones of 1 and 2 overlap, and no single pair of operations shows it.
/// The counterexample is the two values' writes and reads, and nothing of
/// value 3, which took no part.
#[test]
fn overlapping_zones_are_shown_as_the_two_values_writes_and_reads() {
    let ops = [
        w(1, 0, 10),
        w(2, 0, 10),
        r(1, 11, 12),
        r(2, 13, 14),
        r(1, 15, 16),
        w(3, 30, 31),
        r(3, 32, 33),
    ];
    let c = check(&ops, Duration::from_secs(5)).unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_eq!(
        sorted(cx.ops.clone()),
        ops[..5].to_vec(),
        "{}",
        cx.explanation
    );
}

/// Value 1 is written twice, so neither the zones nor the lost-update rule
/// apply and the search decides; a read after the register became 3 sees
/// 2: the search is stuck at that read. The counterexample is the last four
/// operations of the order it found, then the read and what overlaps it —
/// not the first write, and nothing after.
#[test]
fn a_stuck_search_shows_the_end_of_its_order_and_the_read_it_stuck_at() {
    let cas = |expected: u64, new: u64, from: u64, to: u64| {
        op(OpKind::Cas, Some(new), Some(expected), from, to)
    };
    let ops = [
        w(5, 0, 1),
        w(1, 2, 3),
        cas(1, 2, 4, 5),
        w(1, 6, 7),
        cas(1, 3, 8, 9),
        r(2, 10, 11),
        w(4, 20, 21),
        r(4, 22, 23),
    ];
    let c = check_as(
        &ops,
        Model::CasRegister,
        Duration::from_secs(5),
        Algorithm::Auto,
    )
    .unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_eq!(cx.anomaly, Anomaly::NoOrder, "{cx:?}");
    assert_eq!(
        sorted(cx.ops.clone()),
        ops[1..6].to_vec(),
        "{}",
        cx.explanation
    );
}
