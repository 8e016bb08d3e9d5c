//! The classic hand-made histories, linearizable and not.

use std::time::Duration;

use super::*;

fn w(key: &str, v: u64, from: u64, to: u64) -> Op {
    Op {
        key: key.into(),
        kind: OpKind::Write,
        value: Some(v),
        expected: None,
        text: None,
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
        expected: None,
        text: None,
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
    check(ops, Duration::from_secs(5)).unwrap().verdict
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
    )
    .unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert_eq!(cx.key, "x");
    assert_eq!(cx.ops.len(), 3);
    assert_eq!(cx.anomaly, Anomaly::StaleRead);
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
    )
    .unwrap();
    let cx = c.counterexample.unwrap();
    assert!(cx.explanation.contains("before write 7 was invoked"));
    assert_eq!(cx.anomaly, Anomaly::FutureRead);

    // Absent after a completed write (a lost write).
    let c = check(
        &[w("x", 1, 0, 1), r("x", None, 2, 3)],
        Duration::from_secs(5),
    )
    .unwrap();
    let cx = c.counterexample.unwrap();
    assert!(cx.explanation.contains("returned absent"));
    assert_eq!(cx.anomaly, Anomaly::StaleRead);

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
    )
    .unwrap();
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
    let c = check(&ops, Duration::from_secs(5)).unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    assert!(c.counterexample.unwrap().ops.len() >= 2);
}

#[test]
fn a_budget_too_small_for_the_search_is_unknown_not_a_verdict() {
    let ops = sim::linearizable(3, 20_000, 1, 64);
    let c = check_with(&ops, Duration::from_nanos(1), Algorithm::Search).unwrap();
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

fn cas(key: &str, expected: Option<u64>, new: u64, outcome: Outcome, from: u64, to: u64) -> Op {
    Op {
        key: key.into(),
        kind: OpKind::Cas,
        value: Some(new),
        expected,
        text: None,
        invoke_us: from,
        complete_us: (outcome != Outcome::Info).then_some(to),
        outcome,
    }
}

fn cas_verdict(ops: &[Op]) -> Verdict {
    let c = check_as(
        ops,
        Model::CasRegister,
        Duration::from_secs(5),
        Algorithm::Auto,
    )
    .unwrap();
    if c.verdict == Verdict::Violation {
        let cx = c.counterexample.unwrap();
        assert!(cx.ops.iter().all(|o| ops.contains(o)), "{cx:?}");
        // Two successes from one value are named for what they are.
        let won: Vec<_> = ops
            .iter()
            .filter(|o| o.kind == OpKind::Cas && o.outcome == Outcome::Ok)
            .map(|o| o.expected)
            .collect();
        let lost = won
            .iter()
            .any(|e| won.iter().filter(|f| *f == e).count() > 1);
        assert_eq!(cx.anomaly == Anomaly::LostUpdate, lost, "{cx:?}");
    }
    c.verdict
}

#[test]
fn compare_and_set_the_lost_update_and_the_honest_412() {
    use Outcome::{Fail, Info, Ok};
    // Two clients hold version 1; both cas 1 → x one after the other: the
    // second must fail. Both succeeding is the lost update.
    let both = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Ok, 2, 3),
        cas("k", Some(1), 3, Ok, 4, 5),
    ];
    assert_eq!(cas_verdict(&both), Verdict::Violation);
    let honest = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Ok, 2, 3),
        cas("k", Some(1), 3, Fail, 4, 5),
    ];
    assert_eq!(cas_verdict(&honest), Verdict::Linearizable);
    // Overlapping, either may win, and the reads say which did.
    let overlap = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Ok, 2, 6),
        cas("k", Some(1), 3, Fail, 3, 5),
        r("k", Some(2), 7, 8),
    ];
    assert_eq!(cas_verdict(&overlap), Verdict::Linearizable);
    // A 412 although the value was the one expected: a spurious failure.
    let spurious = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Fail, 2, 3),
        r("k", Some(1), 4, 5),
    ];
    assert_eq!(cas_verdict(&spurious), Verdict::Violation);
    // If-None-Match: * (expects absent) on a fresh key succeeds once.
    let create = [cas("k", None, 1, Ok, 0, 1), cas("k", None, 2, Ok, 2, 3)];
    assert_eq!(cas_verdict(&create), Verdict::Violation);
    // An unknown cas may explain a read, or never have happened.
    let unknown = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Info, 2, 0),
        r("k", Some(2), 5, 6),
    ];
    assert_eq!(cas_verdict(&unknown), Verdict::Linearizable);
    let never = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Info, 2, 0),
        r("k", Some(1), 5, 6),
    ];
    assert_eq!(cas_verdict(&never), Verdict::Linearizable);
    // ... but not both ways at once.
    let both_ways = [
        w("k", 1, 0, 1),
        cas("k", Some(1), 2, Info, 2, 0),
        r("k", Some(2), 5, 6),
        r("k", Some(1), 7, 8),
    ];
    assert_eq!(cas_verdict(&both_ways), Verdict::Violation);
}

fn text_op(kind: OpKind, text: &str, from: u64, to: u64) -> Op {
    Op {
        key: "k".into(),
        kind,
        value: None,
        expected: None,
        text: Some(text.into()),
        invoke_us: from,
        complete_us: Some(to),
        outcome: Outcome::Ok,
    }
}

#[test]
fn appends_lost_doubled_or_reordered_are_violations() {
    let verdict = |ops: &[Op]| check(ops, Duration::from_secs(5)).unwrap().verdict;
    let a = |t, from, to| text_op(OpKind::Append, t, from, to);
    let get = |t, from, to| text_op(OpKind::Read, t, from, to);
    assert_eq!(
        verdict(&[a("1,", 0, 1), a("2,", 2, 3), get("1,2,", 4, 5)]),
        Verdict::Linearizable
    );
    // Concurrent appends land in either order.
    assert_eq!(
        verdict(&[a("1,", 0, 3), a("2,", 1, 2), get("2,1,", 4, 5)]),
        Verdict::Linearizable
    );
    // Lost, doubled, reordered.
    assert_eq!(
        verdict(&[a("1,", 0, 1), a("2,", 2, 3), get("2,", 4, 5)]),
        Verdict::Violation
    );
    assert_eq!(
        verdict(&[a("1,", 0, 1), get("1,1,", 2, 3)]),
        Verdict::Violation
    );
    assert_eq!(
        verdict(&[a("1,", 0, 1), a("2,", 2, 3), get("2,1,", 4, 5)]),
        Verdict::Violation
    );
    // A put starts over; absent reads as empty.
    let put = text_op(OpKind::Write, "9,", 2, 3);
    assert_eq!(
        verdict(&[get("", 0, 1), a("1,", 1, 2), put.clone(), get("9,", 4, 5)]),
        Verdict::Linearizable
    );
    assert_eq!(
        verdict(&[a("1,", 0, 1), put, get("1,9,", 4, 5)]),
        Verdict::Violation
    );
}

#[test]
fn made_to_order_histories_of_every_model_are_linearizable_and_break_when_tampered() {
    for model in Model::ALL {
        let mut ops = sim::linearizable_as(model, 9, 3000, 8, 16);
        let c = check_as(&ops, model, Duration::from_secs(20), Algorithm::Auto).unwrap();
        assert_eq!(c.verdict, Verdict::Linearizable, "{model:?}");
        // A read that names something nobody wrote.
        let read = ops
            .iter_mut()
            .filter(|o| o.kind == OpKind::Read)
            .nth(100)
            .unwrap();
        match model {
            Model::Append => read.text = Some("0,".into()),
            _ => read.value = Some(0),
        }
        let c = check_as(&ops, model, Duration::from_secs(20), Algorithm::Auto).unwrap();
        assert_eq!(c.verdict, Verdict::Violation, "{model:?}");
    }
}

#[test]
fn every_kind_of_operation_is_described_in_words() {
    let ops = [
        w("k", 3, 0, 1),
        r("k", None, 0, 1),
        r("k", Some(3), 0, 1),
        cas("k", Some(3), 4, Outcome::Ok, 0, 1),
        cas("k", None, 5, Outcome::Fail, 0, 1),
        cas("k", Some(5), 6, Outcome::Info, 0, 0),
        text_op(OpKind::Append, "x 1 y", 0, 1),
        text_op(OpKind::Write, "p", 0, 1),
        text_op(OpKind::Read, "x 1 y", 0, 1),
    ];
    let words: Vec<String> = ops.iter().map(Op::describe).collect();
    assert_eq!(
        words,
        [
            "write 3",
            "read → absent",
            "read → 3",
            "cas 3 → 4",
            "cas absent → 5 (failed)",
            "cas 5 → 6 (unknown)",
            "append \"x 1 y\"",
            "put \"p\"",
            "read → \"x 1 y\"",
        ]
    );
}

/// Porcupine's `kv/c50-bad`, key "0": a key the search cannot decide in a
/// few hundred milliseconds.
fn hard_key() -> Vec<Op> {
    let text = include_str!("../../tests/fixtures/porcupine/kv/c50-bad.txt");
    let ops = super::parse::parse(text).unwrap().ops;
    ops.into_iter().filter(|o| o.key == "0").collect()
}

#[test]
fn out_of_budget_is_unknown_and_the_time_spent_is_reported() {
    let ops = hard_key();
    let started = std::time::Instant::now();
    let c = check(&ops, Duration::from_millis(150)).unwrap();
    let spent = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(c.verdict, Verdict::Unknown);
    assert!(c.counterexample.is_none());
    // The budget was spent, and the report says how long, in ms.
    assert!(
        c.check_ms >= 150.0 && c.check_ms <= spent + 1.0,
        "{} of {spent} ms",
        c.check_ms
    );
}
