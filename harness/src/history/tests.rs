//! The classic hand-made histories, linearizable and not.

use std::time::Duration;

use super::*;

fn w(key: &str, v: u64, from: u64, to: u64) -> Op {
    Op {
        key: key.into(),
        kind: OpKind::Write,
        value: Some(v),
        invoke_us: from,
        complete_us: Some(to),
        outcome: Outcome::Ok,
    }
}

fn r(key: &str, v: Option<u64>, from: u64, to: u64) -> Op {
    Op {
        key: key.into(),
        kind: OpKind::Read,
        value: v,
        invoke_us: from,
        complete_us: Some(to),
        outcome: Outcome::Ok,
    }
}

fn info(mut op: Op) -> Op {
    op.complete_us = None;
    op.outcome = Outcome::Info;
    op
}

fn verdict(ops: &[Op]) -> Verdict {
    check(ops, Duration::from_secs(5)).verdict
}

#[test]
fn sequential_and_overlapping_histories_that_are_linearizable() {
    // Sequential.
    assert_eq!(
        verdict(&[r("x", None, 0, 1), w("x", 1, 2, 3), r("x", Some(1), 4, 5)]),
        Verdict::Linearizable
    );
    // A read overlapping a write may see either value.
    assert_eq!(
        verdict(&[w("x", 1, 0, 10), r("x", None, 1, 2), r("x", Some(1), 3, 4)]),
        Verdict::Linearizable
    );
    // Two overlapping writes: reads after both may see either, but then agree.
    assert_eq!(
        verdict(&[
            w("x", 1, 0, 10),
            w("x", 2, 0, 10),
            r("x", Some(1), 11, 12),
            r("x", Some(1), 13, 14)
        ]),
        Verdict::Linearizable
    );
    // Keys are independent.
    assert_eq!(
        verdict(&[w("x", 1, 0, 1), r("y", None, 2, 3), r("x", Some(1), 2, 3)]),
        Verdict::Linearizable
    );
}

#[test]
fn the_classic_violations_are_found_and_explained() {
    // Stale read: 1 was overwritten by 2 before the read began.
    let c = check(
        &[w("x", 1, 0, 1), w("x", 2, 2, 3), r("x", Some(1), 4, 5)],
        Duration::from_secs(5),
    );
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_eq!(cx.key, "x");
    assert_eq!(cx.ops.len(), 3);
    assert!(
        cx.explanation.contains("read of x returned 1"),
        "{}",
        cx.explanation
    );
    assert!(
        cx.explanation.contains("after write 2 completed"),
        "{}",
        cx.explanation
    );

    // A read of a value before its write began.
    let c = check(
        &[r("x", Some(7), 0, 1), w("x", 7, 2, 3)],
        Duration::from_secs(5),
    );
    assert_eq!(c.verdict, Verdict::Violation);
    assert!(c
        .counterexample
        .unwrap()
        .explanation
        .contains("before write 7 was invoked"));

    // Absent after a completed write (a lost write).
    let c = check(
        &[w("x", 1, 0, 1), r("x", None, 2, 3)],
        Duration::from_secs(5),
    );
    assert_eq!(c.verdict, Verdict::Violation);
    assert!(c
        .counterexample
        .unwrap()
        .explanation
        .contains("returned absent"));

    // Reads going back in time: both writes overlap both reads' start, but
    // once a read saw 2, a later read cannot see 1 again.
    let c = check(
        &[
            w("x", 1, 0, 2),
            w("x", 2, 1, 20),
            r("x", Some(2), 3, 4),
            r("x", Some(1), 5, 6),
        ],
        Duration::from_secs(5),
    );
    assert_eq!(c.verdict, Verdict::Violation);
}

#[test]
fn info_writes_may_or_may_not_have_happened() {
    // An unacknowledged write may show up later…
    assert_eq!(
        verdict(&[
            info(w("x", 1, 0, 0)),
            r("x", None, 5, 6),
            r("x", Some(1), 7, 8)
        ]),
        Verdict::Linearizable
    );
    // …or never.
    assert_eq!(
        verdict(&[info(w("x", 1, 0, 0)), r("x", None, 5, 6)]),
        Verdict::Linearizable
    );
    // But not before it was invoked.
    assert_eq!(
        verdict(&[r("x", Some(1), 0, 1), info(w("x", 1, 2, 2))]),
        Verdict::Violation
    );
    // And once seen, it cannot be undone.
    assert_eq!(
        verdict(&[
            info(w("x", 1, 0, 0)),
            r("x", Some(1), 5, 6),
            r("x", None, 7, 8)
        ]),
        Verdict::Violation
    );
    // Failed writes never happened; failed reads say nothing.
    let mut failed = w("x", 9, 0, 1);
    failed.outcome = Outcome::Fail;
    let mut failed_read = r("x", Some(42), 0, 1);
    failed_read.outcome = Outcome::Fail;
    assert_eq!(
        verdict(&[failed, failed_read, r("x", None, 2, 3)]),
        Verdict::Linearizable
    );
}

#[test]
fn simulated_histories_are_linearizable_and_a_stale_read_breaks_them() {
    let mut ops = sim::linearizable(7, 2000, 8, 16);
    assert_eq!(verdict(&ops), Verdict::Linearizable);
    // Make one late read return the key's first write: stale.
    let first_write = ops
        .iter()
        .find(|o| o.kind == OpKind::Write && o.key == "k3")
        .cloned()
        .unwrap();
    let late = ops
        .iter()
        .rposition(|o| {
            o.kind == OpKind::Read
                && o.key == "k3"
                && ops.iter().any(|w| {
                    w.kind == OpKind::Write
                        && w.key == "k3"
                        && w.invoke_us > first_write.complete_us.unwrap()
                        && w.complete_us.unwrap() < o.invoke_us
                })
        })
        .unwrap();
    ops[late].value = first_write.value;
    let c = check(&ops, Duration::from_secs(5));
    assert_eq!(c.verdict, Verdict::Violation);
    assert!(c.counterexample.unwrap().ops.len() >= 2);
}

#[test]
fn a_budget_too_small_for_the_search_is_unknown_not_a_verdict() {
    let ops = sim::linearizable(3, 20_000, 1, 64);
    let c = check_with(&ops, Duration::from_nanos(1), Algorithm::Search);
    assert_eq!(c.verdict, Verdict::Unknown);
}

#[test]
fn zones_decide_a_hot_key_the_search_cannot() {
    // 64 clients all on one key: the search's state space explodes; the
    // zones need no budget at all.
    let mut ops = sim::linearizable(3, 20_000, 1, 64);
    assert_eq!(verdict(&ops), Verdict::Linearizable);
    // Absent after the first write completed: a lost write.
    let first = ops
        .iter()
        .find(|o| o.kind == OpKind::Write)
        .cloned()
        .unwrap();
    let late = ops
        .iter()
        .rposition(|o| o.kind == OpKind::Read && o.invoke_us > first.complete_us.unwrap())
        .unwrap();
    ops[late].value = None;
    assert_eq!(verdict(&ops), Verdict::Violation);
}
