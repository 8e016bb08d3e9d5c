//! Turning a violation into a counterexample a person can check: the few
//! operations that prove it, and a sentence. The search only says "no
//! order exists"; these rules find a small witness where a common pattern
//! explains it (a stale read, a read of a value never written or not yet
//! written, a read that goes back in time), and otherwise show the
//! operations around the point where the deepest attempt got stuck.

use super::wgl::Stuck;
use super::zones::ZoneViolation;
use super::{Anomaly, Counterexample, Op, OpKind, Outcome};

/// A witness: its operations, the anomaly they show, and the sentence.
type Witness = (Vec<Op>, Anomaly, String);

/// The counterexample for `key`, whose relevant operations are `ops`; the
/// register patterns are looked for only where `register` says the key is
/// a plain register.
pub(super) fn counterexample(
    key: &str,
    ops: &[&Op],
    stuck: &Stuck,
    register: bool,
) -> Counterexample {
    let name = display_name(key);
    let (mut witness, anomaly, explanation) = register
        .then(|| witness(name, ops))
        .flatten()
        .or_else(|| twice_from_one_value(name, ops))
        .unwrap_or_else(|| around_the_stuck_point(name, ops, stuck));
    let mut unique: Vec<Op> = Vec::with_capacity(witness.len());
    for op in witness.drain(..) {
        if !unique.contains(&op) {
            unique.push(op);
        }
    }
    witness = unique;
    witness.sort_by_key(|op| (op.invoke_us, op.complete_us));
    Counterexample {
        key: key.to_owned(),
        ops: witness,
        anomaly,
        explanation,
    }
}

/// The counterexample for a violation the zones found.
pub(super) fn from_zones(key_name: &str, ops: &[&Op], violation: &ZoneViolation) -> Counterexample {
    let key = display_name(key_name);
    let (mut witness, anomaly, explanation) = witness(key, ops).unwrap_or_else(|| {
        // The clusters involved: a write and the reads of its value.
        let cluster = |c: Option<usize>| -> Vec<Op> {
            let value = c.and_then(|w| ops[w].value);
            ops.iter()
                .filter(|o| match (o.kind, c) {
                    (OpKind::Write, Some(w)) => o.value == ops[w].value,
                    (OpKind::Write, None) => false,
                    (OpKind::Read, _) => o.value == value,
                    (OpKind::Cas | OpKind::Append, _) => false,
                })
                .take(6)
                .map(|o| (*o).clone())
                .collect()
        };
        let name = |c: Option<usize>| c.map_or_else(|| "absent".to_owned(), |w| value(ops[w].value));
        match violation {
            ZoneViolation::Overlap { a, b } => {
                let mut both = cluster(*a);
                both.extend(cluster(*b));
                (
                    both,
                    Anomaly::NoOrder,
                    format!(
                        "no order of {key}'s operations explains every read: the value {} must stay visible while {} is written and read, and the other way round",
                        name(*a),
                        name(*b)
                    ),
                )
            }
            ZoneViolation::Inside { inner, outer } => {
                let mut both = cluster(*outer);
                both.extend(cluster(*inner));
                (
                    both,
                    Anomaly::NoOrder,
                    format!(
                        "no order of {key}'s operations explains every read: {} can only take effect while {} must stay visible",
                        name(*inner),
                        name(*outer)
                    ),
                )
            }
            ZoneViolation::Unwritten { read } | ZoneViolation::BeforeWrite { read, .. } => (
                vec![ops[*read].clone()],
                if matches!(violation, ZoneViolation::Unwritten { .. }) {
                    Anomaly::UnwrittenValue
                } else {
                    Anomaly::FutureRead
                },
                format!("no order of {key}'s operations explains the read of {}", value(ops[*read].value)),
            ),
        }
    });
    witness.sort_by_key(|op| (op.invoke_us, op.complete_us));
    witness.dedup();
    Counterexample {
        key: key_name.to_owned(),
        ops: witness,
        anomaly,
        explanation,
    }
}

/// How a key is named in words: Jepsen's single register has no key.
fn display_name(key: &str) -> &str {
    if key.is_empty() {
        "the register"
    } else {
        key
    }
}

fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

fn value(v: Option<u64>) -> String {
    v.map_or_else(|| "absent".to_owned(), |v| v.to_string())
}

/// Completed strictly before `b` began.
fn before(a: &Op, b: &Op) -> bool {
    a.complete_us.is_some_and(|c| c < b.invoke_us)
}

fn witness(key: &str, ops: &[&Op]) -> Option<Witness> {
    let writes: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.kind == OpKind::Write)
        .collect();
    let done_writes: Vec<&Op> = writes
        .iter()
        .copied()
        .filter(|w| w.outcome == Outcome::Ok)
        .collect();
    let mut reads: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.kind == OpKind::Read)
        .collect();
    reads.sort_by_key(|r| r.invoke_us);
    let written = |v: u64| writes.iter().copied().find(|w| w.value == Some(v));
    for r in &reads {
        let done = r.complete_us.unwrap_or(r.invoke_us);
        match r.value {
            None => {
                if let Some(w) = done_writes.iter().find(|w| before(w, r)) {
                    return Some((
                        vec![(*w).clone(), (*r).clone()],
                        Anomaly::StaleRead,
                        format!(
                            "read of {key} returned absent at {}–{}, after write {} completed at {}",
                            ms(r.invoke_us),
                            ms(done),
                            value(w.value),
                            ms(w.complete_us.unwrap_or(0))
                        ),
                    ));
                }
            }
            Some(v) => {
                let Some(w) = written(v) else {
                    return Some((
                        vec![(*r).clone()],
                        Anomaly::UnwrittenValue,
                        format!(
                            "read of {key} returned {v} at {}–{}, a value no write wrote",
                            ms(r.invoke_us),
                            ms(done)
                        ),
                    ));
                };
                if before(r, w) {
                    return Some((
                        vec![(*r).clone(), w.clone()],
                        Anomaly::FutureRead,
                        format!(
                            "read of {key} returned {v}, completing at {}, before write {v} was invoked at {}",
                            ms(done),
                            ms(w.invoke_us)
                        ),
                    ));
                }
                if let Some(w2) = done_writes
                    .iter()
                    .find(|w2| w2.value != Some(v) && before(w, w2) && before(w2, r))
                {
                    return Some((
                        vec![w.clone(), (*w2).clone(), (*r).clone()],
                        Anomaly::StaleRead,
                        format!(
                            "read of {key} returned {v} at {}–{}, after write {} completed at {}; write {v} had completed at {}, before write {} began at {}",
                            ms(r.invoke_us),
                            ms(done),
                            value(w2.value),
                            ms(w2.complete_us.unwrap_or(0)),
                            ms(w.complete_us.unwrap_or(0)),
                            value(w2.value),
                            ms(w2.invoke_us)
                        ),
                    ));
                }
            }
        }
    }
    // A later read returns an older value than an earlier read saw.
    for (i, r1) in reads.iter().enumerate() {
        let Some(w1) = r1.value.and_then(written) else {
            continue;
        };
        for r2 in &reads[i + 1..] {
            if !before(r1, r2) {
                continue;
            }
            let older = match r2.value {
                None => Some(None),
                Some(v) => written(v).filter(|w0| before(w0, w1)).map(Some),
            };
            if let Some(w0) = older {
                let mut ops = vec![w1.clone(), (*r1).clone(), (*r2).clone()];
                ops.extend(w0.cloned());
                return Some((
                    ops,
                    Anomaly::StaleRead,
                    format!(
                        "read of {key} returned {} at {}, after an earlier read (done at {}) had returned the newer {}",
                        value(r2.value),
                        ms(r2.invoke_us),
                        ms(r1.complete_us.unwrap_or(0)),
                        value(r1.value)
                    ),
                ));
            }
        }
    }
    None
}

/// The lost update of a compare-and-set register: two compare-and-sets
/// from one value both succeeded. Where every write and every cas set a
/// distinct value and nothing deletes, a value (or "absent") is left once
/// and never comes back, so only one compare-and-set from it can succeed.
fn twice_from_one_value(key: &str, ops: &[&Op]) -> Option<Witness> {
    let mut set = std::collections::HashSet::new();
    let distinct = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Write | OpKind::Cas))
        .all(|o| o.text.is_none() && o.value.is_some_and(|v| set.insert(v)));
    if !distinct {
        return None;
    }
    let won: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| o.kind == OpKind::Cas && o.outcome == Outcome::Ok)
        .collect();
    let mut first_from = std::collections::HashMap::new();
    for cas in won {
        if let Some(first) = first_from.insert(cas.expected, cas) {
            return Some((
                vec![first.clone(), cas.clone()],
                Anomaly::LostUpdate,
                format!(
                    "two compare-and-sets of {key} from {} both succeeded: {} at {} and {} at {}; {} was left once and never came back, so only one of them can have seen it",
                    value(cas.expected),
                    first.describe(),
                    ms(first.invoke_us),
                    cas.describe(),
                    ms(cas.invoke_us),
                    value(cas.expected),
                ),
            ));
        }
    }
    None
}

fn around_the_stuck_point(key: &str, ops: &[&Op], stuck: &Stuck) -> Witness {
    let Some(blocking) = stuck.blocking.map(|i| ops[i]) else {
        let all: Vec<Op> = ops.iter().take(10).map(|o| (*o).clone()).collect();
        return (
            all,
            Anomaly::NoOrder,
            format!("no order of {key}'s operations explains every read"),
        );
    };
    // The last few operations of the deepest valid order (the state the
    // blocking operation met), then the blocking operation and what
    // overlaps it.
    let end = blocking.complete_us.unwrap_or(u64::MAX);
    let tail = stuck.linearized.len().saturating_sub(4);
    let mut window: Vec<Op> = stuck.linearized[tail..]
        .iter()
        .map(|&i| ops[i].clone())
        .collect();
    window.extend(
        ops.iter()
            .filter(|o| o.invoke_us <= end && o.complete_us.is_none_or(|c| c >= blocking.invoke_us))
            .take(12)
            .map(|o| (*o).clone()),
    );
    window.push(blocking.clone());
    (
        window,
        Anomaly::NoOrder,
        format!(
            "no order of {key}'s operations explains every read: after {} operations in a valid order, the {} at {} cannot take effect before it completes",
            stuck.linearized.len(),
            blocking.describe(),
            ms(blocking.invoke_us)
        ),
    )
}
