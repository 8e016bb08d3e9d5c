//! The polynomial check for a register whose writes all write distinct
//! values (what `racegate kv` records): Gibbons and Korach's zones.
//!
//! With distinct values every read names the one write it saw, so the
//! operations fall into clusters: a write and the reads of its value (the
//! reads of "absent" form the cluster of a virtual write before
//! everything). In any linearization a cluster is one contiguous block. A
//! cluster's zone runs from the earliest completion `f` of its operations to
//! the latest invocation `s`. If `f < s` (something finished before something
//! else began) it is a *forward* zone: the block must cover all of it.
//! Otherwise it is a *backward* zone: the block fits at one instant inside
//! it. The history is linearizable iff no read completes before its write
//! is invoked, no two forward zones overlap, and no backward zone lies
//! strictly inside a forward one. Sorting the zones makes this
//! O(n log n), however much the operations overlap — where the search in
//! `wgl` can explode on one hot key with many clients.
//!
//! Times compare strictly, as in the search: operations that touch are
//! concurrent. A write that may or may not have taken effect (info) and
//! was never read is left out; if it was read, it completed at +∞.

use std::collections::HashMap;

use super::{Op, OpKind};

/// Why the zones rule a history out.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ZoneViolation {
    /// A read of a value no write wrote.
    Unwritten { read: usize },
    /// A read completed before its write was invoked.
    BeforeWrite { read: usize, write: usize },
    /// Two clusters must each span the other's moment.
    Overlap { a: Option<usize>, b: Option<usize> },
    /// A cluster must sit inside another's span.
    Inside {
        inner: Option<usize>,
        outer: Option<usize>,
    },
}

/// `None` when `ops` (one key's relevant operations, writes distinct) is
/// linearizable. Cluster ids in the result are write indices (`None`: the
/// initial "absent").
pub(super) fn check_unique_register(ops: &[&Op]) -> Option<ZoneViolation> {
    // Times as i128 so the virtual initial write can sit at -∞ and
    // unacknowledged writes complete at +∞.
    const NEG: i128 = i128::MIN / 4;
    const POS: i128 = i128::MAX / 4;
    let complete = |op: &Op| op.complete_us.map_or(POS, i128::from);
    let mut write_of: HashMap<u64, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.kind == OpKind::Write {
            if let Some(v) = op.value {
                write_of.insert(v, i);
            }
        }
    }
    // Per cluster: (earliest completion, latest invocation, was it read).
    let mut zones: HashMap<Option<usize>, (i128, i128, bool)> = HashMap::new();
    zones.insert(None, (NEG, NEG, false));
    for (i, op) in ops.iter().enumerate() {
        let cluster = match (op.kind, op.value) {
            // Only plain register keys come here (see `check_as`).
            (OpKind::Write | OpKind::Cas | OpKind::Append, _) => Some(i),
            (OpKind::Read, None) => None,
            (OpKind::Read, Some(v)) => {
                let Some(&w) = write_of.get(&v) else {
                    return Some(ZoneViolation::Unwritten { read: i });
                };
                if complete(op) < i128::from(ops[w].invoke_us) {
                    return Some(ZoneViolation::BeforeWrite { read: i, write: w });
                }
                Some(w)
            }
        };
        let z = zones.entry(cluster).or_insert((POS, NEG, false));
        z.0 = z.0.min(complete(op));
        z.1 = z.1.max(i128::from(op.invoke_us));
        z.2 |= op.kind == OpKind::Read;
    }
    // Unacknowledged writes nobody read may never have happened: drop them.
    zones.retain(|c, z| c.is_none_or(|w| ops[w].complete_us.is_some()) || z.2);
    let mut forward: Vec<(i128, i128, Option<usize>)> = Vec::new();
    let mut backward: Vec<(i128, i128, Option<usize>)> = Vec::new();
    for (c, (f, s, _)) in zones {
        if f < s {
            forward.push((f, s, c));
        } else {
            backward.push((s, f, c));
        }
    }
    forward.sort_unstable();
    for pair in forward.windows(2) {
        let ((_, s1, a), (f2, _, b)) = (pair[0], pair[1]);
        if f2 < s1 {
            return Some(ZoneViolation::Overlap { a, b });
        }
    }
    for (s, f, inner) in backward {
        // The forward zone starting last before `s`: disjoint and sorted, so
        // it is the only one that can hold [s, f] strictly inside. It starts
        // strictly before `s` (a zone starting at `s` only touches).
        let at = forward.partition_point(|z| z.0 < s);
        if let Some(&(_, zs, outer)) = at.checked_sub(1).map(|i| &forward[i]) {
            if f < zs {
                return Some(ZoneViolation::Inside { inner, outer });
            }
        }
    }
    None
}
