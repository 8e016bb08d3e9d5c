//! The history checker is trusted because both its algorithms — the zones
//! (distinct writes) and the Wing–Gong/Lowe search — agree with a
//! brute-force checker (every order of every key's operations that real
//! time allows, with every unacknowledged write either in or out) on random
//! small histories: up to 8 operations over up to 3 keys, info operations
//! included, linearizable and not.

use std::time::Duration;

use proptest::prelude::*;
use racegate::history::{check, check_with, Algorithm, Op, OpKind, Outcome, Verdict};

/// Whether some subset-and-order of `ops` (all completed ones, any of the
/// info writes) respects real time and register semantics.
fn brute_force_key(ops: &[&Op]) -> bool {
    let required: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.outcome == Outcome::Ok)
        .collect();
    let optional: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.outcome == Outcome::Info && o.kind == OpKind::Write)
        .collect();
    (0..1u32 << optional.len()).any(|mask| {
        let mut chosen = required.clone();
        chosen.extend(
            optional
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, o)| *o),
        );
        let mut used = vec![false; chosen.len()];
        let mut order = Vec::new();
        permute(&chosen, &mut used, &mut order)
    })
}

/// Depth-first over orders: an op may go next only if nothing unplaced
/// completed before it was invoked, and a read must see the last write.
fn permute<'a>(ops: &[&'a Op], used: &mut Vec<bool>, order: &mut Vec<&'a Op>) -> bool {
    if order.len() == ops.len() {
        let mut state = None;
        return order.iter().all(|op| match op.kind {
            OpKind::Write => {
                state = op.value;
                true
            }
            OpKind::Read => op.value == state,
            OpKind::Cas | OpKind::Append => unreachable!("the generator makes reads and writes"),
        });
    }
    for i in 0..ops.len() {
        if used[i] {
            continue;
        }
        let must_wait = ops.iter().enumerate().any(|(j, other)| {
            !used[j] && j != i && other.complete_us.is_some_and(|c| c < ops[i].invoke_us)
        });
        if must_wait {
            continue;
        }
        used[i] = true;
        order.push(ops[i]);
        if permute(ops, used, order) {
            return true;
        }
        order.pop();
        used[i] = false;
    }
    false
}

fn brute_force(ops: &[Op]) -> bool {
    let mut keys: Vec<&str> = ops.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().all(|k| {
        let key_ops: Vec<&Op> = ops
            .iter()
            .filter(|o| o.key == k)
            .filter(|o| !(o.kind == OpKind::Read && o.outcome != Outcome::Ok))
            .filter(|o| !(o.kind == OpKind::Write && o.outcome == Outcome::Fail))
            .collect();
        brute_force_key(&key_ops)
    })
}

/// (key, is_write, start, length, outcome 0 ok / 1 info / 2 fail, choice).
///
/// A read names a value written to *its own key* (or absent, or rarely one
/// never written), so most histories are settled by the order of
/// operations, not by a value out of nowhere; one write in ten writes the
/// same value as an earlier write of its key, so the checker's path for
/// repeated values (where the zones shortcut does not apply) is exercised.
fn history() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        (0..3u8, any::<bool>(), 0..20u64, 0..10u64, 0..6u8, 0..10u64),
        1..=8,
    )
    .prop_map(|raw| {
        // Each write's value: its own, or (choice 2) an earlier write's of
        // the same key.
        let mut values: Vec<Option<u64>> = Vec::with_capacity(raw.len());
        for (i, &(key, is_write, .., pick)) in raw.iter().enumerate() {
            let earlier = raw[..i]
                .iter()
                .zip(&values)
                .rev()
                .find(|((k, w, ..), _)| *k == key && *w)
                .and_then(|(_, v)| *v);
            values.push(is_write.then(|| match (pick, earlier) {
                (2, Some(v)) => v,
                _ => i as u64 + 1,
            }));
        }
        raw.iter()
            .enumerate()
            .map(|(i, &(key, is_write, start, len, outcome, pick))| {
                let outcome = match outcome {
                    0 => Outcome::Info,
                    1 => Outcome::Fail,
                    _ => Outcome::Ok,
                };
                let same_key: Vec<u64> = raw
                    .iter()
                    .zip(&values)
                    .filter(|((k, ..), _)| *k == key)
                    .filter_map(|(_, v)| *v)
                    .collect();
                let read = match pick {
                    0..=1 => None,
                    9 => Some(999),
                    _ if same_key.is_empty() => None,
                    p => Some(same_key[(p as usize) % same_key.len()]),
                };
                Op {
                    key: format!("k{key}"),
                    kind: if is_write {
                        OpKind::Write
                    } else {
                        OpKind::Read
                    },
                    value: if is_write { values[i] } else { read },
                    expected: None,
                    text: None,
                    invoke_us: start,
                    complete_us: (outcome != Outcome::Info).then_some(start + len),
                    outcome,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn both_algorithms_agree_with_brute_force(ops in history()) {
        let expected = brute_force(&ops);
        for (name, result) in [
            ("zones", check(&ops, Duration::from_secs(10)).unwrap()),
            ("search", check_with(&ops, Duration::from_secs(10), Algorithm::Search).unwrap()),
        ] {
            prop_assert_ne!(result.verdict, Verdict::Unknown);
            prop_assert_eq!(
                result.verdict == Verdict::Linearizable,
                expected,
                "{} says {:?}, brute force says linearizable = {}",
                name,
                result.verdict,
                expected
            );
            if result.verdict == Verdict::Violation {
                // The proof stands on its own: operations of the history,
                // all of its key, and no order of them alone is possible.
                let cx = result.counterexample.as_ref().unwrap();
                prop_assert!(!cx.ops.is_empty());
                prop_assert!(cx.ops.iter().all(|o| o.key == cx.key && ops.contains(o)), "{:?}", cx);
                prop_assert!(!brute_force(&cx.ops), "{} counterexample is linearizable on its own: {:?}", name, cx);
            }
        }
    }
}

/// Zones that touch (one's end is the other's start) are concurrent: two
/// forward zones touching do not overlap, and a backward zone touching a
/// forward one's start does not lie inside it. Write 1 completes at 1 and
/// is read at 5..6; write 2 runs 4..5 and is read at 6..7: reading 1 at 5,
/// then writing 2 at 5, is a legal order. Or write 2 runs 1..3, unread: it
/// may take effect at 1, just before write 1. (The generator finds these
/// cases only now and then.)
#[test]
fn touching_zones_are_not_an_overlap() {
    let op = |kind, value, invoke_us, complete_us| Op {
        key: "k".into(),
        kind,
        value: Some(value),
        expected: None,
        text: None,
        invoke_us,
        complete_us: Some(complete_us),
        outcome: Outcome::Ok,
    };
    // Two forward zones touching; then a backward zone (write 2 at 1..3,
    // never read) starting where the forward zone of 1 (1..5) starts.
    let touching_forward = vec![
        op(OpKind::Write, 1, 0, 1),
        op(OpKind::Write, 2, 4, 5),
        op(OpKind::Read, 1, 5, 6),
        op(OpKind::Read, 2, 6, 7),
    ];
    let touching_backward = vec![
        op(OpKind::Write, 1, 0, 1),
        op(OpKind::Write, 2, 1, 3),
        op(OpKind::Read, 1, 5, 6),
    ];
    for ops in [touching_forward, touching_backward] {
        assert!(brute_force(&ops), "the oracle finds an order");
        for result in [
            check(&ops, Duration::from_secs(10)).unwrap(),
            check_with(&ops, Duration::from_secs(10), Algorithm::Search).unwrap(),
        ] {
            assert_eq!(result.verdict, Verdict::Linearizable, "{result:?}");
        }
    }
}

/// After a failed search the explanation starts from the deepest attempt:
/// the longest valid order found, and the operation that blocked it. Here
/// the search meets five dead ends, in this order: the empty get after the
/// append (1 operation in), the get of `1,3,` after `get "" · 1, · 2,` (3
/// in: the deepest), then 2, 1 and 0 in as it backs out. Of two attempts
/// equally deep, the first is shown.
#[test]
fn the_counterexample_starts_from_the_deepest_attempt() {
    let op = |kind, text: &str, from, to| Op {
        key: "k".into(),
        kind,
        value: None,
        expected: None,
        text: Some(text.into()),
        invoke_us: from,
        complete_us: Some(to),
        outcome: Outcome::Ok,
    };
    let history = [
        op(OpKind::Append, "1,", 0, 25),
        op(OpKind::Read, "", 10, 20),
        op(OpKind::Append, "2,", 30, 40),
        op(OpKind::Read, "1,3,", 50, 60),
    ];
    let c = check(&history, Duration::from_secs(5)).unwrap();
    assert_eq!(c.verdict, Verdict::Violation);
    let cx = c.counterexample.unwrap();
    assert!(
        cx.explanation.contains(
            "after 3 operations in a valid order, the read → \"1,3,\" at 0.050 ms cannot take effect"
        ),
        "{}",
        cx.explanation
    );
    // Two attempts 3 in: `1, · 2, · get 1,2,` blocked by the get of `2,1,`,
    // then `2, · 1, · get 2,1,` blocked by the get of `1,2,`. The first
    // deepest is the one shown.
    let history = [
        op(OpKind::Append, "1,", 0, 10),
        op(OpKind::Append, "2,", 1, 11),
        op(OpKind::Read, "1,2,", 20, 30),
        op(OpKind::Read, "2,1,", 21, 29),
    ];
    let cx = check(&history, Duration::from_secs(5))
        .unwrap()
        .counterexample
        .unwrap();
    assert!(
        cx.explanation.contains(
            "after 3 operations in a valid order, the read → \"2,1,\" at 0.021 ms cannot take effect"
        ),
        "{}",
        cx.explanation
    );
}
