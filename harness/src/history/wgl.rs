//! The Wing–Gong linearizability search with Lowe's memoisation, for one
//! key's operations against any model (`model::Stepper`).
//!
//! Every operation is a call event and (unless it is info) a return event,
//! in one doubly linked list ordered by time (calls before returns at equal
//! times: touching operations count as concurrent). The search walks the
//! list: at a call, it tries to linearize that operation now (a read must
//! return the current value); if the new (linearized set, state) was not
//! seen before, it lifts the call and its return out of the list and starts
//! again from the head. At a return whose operation is not linearized yet,
//! the last choice was wrong: it backtracks. An empty list is a
//! linearization; backtracking past the first choice proves there is none.
//!
//! The linearized set is remembered by a 128-bit Zobrist hash (each
//! operation a random 128-bit word, the set their XOR), updated in O(1) per
//! step; the memo holds (hash, state) pairs, 32 bytes each, so memory grows
//! with the states explored, not with their size. Two different sets share a
//! hash with probability about 2⁻¹²⁸ per pair: a risk far below any other.

use std::collections::HashSet;
use std::time::Instant;

use super::model::Stepper;
use super::Op;

pub(super) enum KeyVerdict {
    Linearizable,
    /// No linearization. `stuck`: the operations (indices into the key's
    /// ops) of the deepest partial linearization, then the one whose return
    /// could not be passed.
    Violation {
        stuck: Stuck,
    },
    /// Not decided within the deadline or the step limit.
    Unfinished,
}

/// Where the deepest attempt got stuck.
#[derive(Debug, Default)]
pub(super) struct Stuck {
    /// Operations linearized, in order.
    pub linearized: Vec<usize>,
    /// The operation whose return was reached unlinearized.
    pub blocking: Option<usize>,
}

/// Zobrist words: operation `i`'s random 128-bit key.
fn zobrist(i: usize) -> u128 {
    let mut rng =
        super::sim::Rng::new(0x005e_ed0f_2b1e_u64 ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
}

struct List {
    /// Per entry: its operation and whether it is the call.
    op: Vec<usize>,
    is_call: Vec<bool>,
    /// The return entry of a call entry, if the operation completed.
    ret: Vec<Option<usize>>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// The sentinel: `next[head]` is the first entry; `head` ends the list.
    head: usize,
}

impl List {
    fn new(ops: &[&Op]) -> Self {
        // (time, 0 = call / 1 = return, op)
        let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke_us, 0, i));
            if let Some(t) = op.complete_us {
                events.push((t.max(op.invoke_us), 1, i));
            }
        }
        events.sort_unstable();
        let n = events.len();
        let head = n;
        // Entries 0..n in time order, then the sentinel `n`, in a ring.
        let mut list = List {
            op: Vec::with_capacity(n),
            is_call: Vec::with_capacity(n),
            ret: vec![None; n],
            next: (1..=n).chain([0]).collect(),
            prev: std::iter::once(n).chain(0..n).collect(),
            head,
        };
        let mut call_of = vec![usize::MAX; ops.len()];
        for (e, &(_, kind, op)) in events.iter().enumerate() {
            list.op.push(op);
            list.is_call.push(kind == 0);
            if kind == 0 {
                call_of[op] = e;
            } else {
                list.ret[call_of[op]] = Some(e);
            }
        }
        list
    }

    fn first(&self) -> usize {
        self.next[self.head]
    }

    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        self.prev[n] = e;
    }

    /// Removes a call entry and its return.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(r) = self.ret[call] {
            self.unlink(r);
        }
    }

    /// Puts them back (the reverse of the matching `lift`).
    fn unlift(&mut self, call: usize) {
        if let Some(r) = self.ret[call] {
            self.relink(r);
        }
        self.relink(call);
    }
}

/// Searches for a linearization of `ops` (one key's) under `model`, for at
/// most `max_steps` steps and until `deadline`.
pub(super) fn search<M: Stepper>(
    ops: &[&Op],
    model: &M,
    deadline: Instant,
    max_steps: u64,
) -> KeyVerdict {
    let mut list = List::new(ops);
    let keys: Vec<u128> = (0..ops.len()).map(zobrist).collect();
    let mut linearized: u128 = 0;
    let mut seen: HashSet<(u128, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut deepest = Stuck::default();
    let mut entry = list.first();
    let mut steps: u64 = 0;
    while list.first() != list.head {
        steps += 1;
        if steps > max_steps || (steps % 4096 == 0 && Instant::now() > deadline) {
            return KeyVerdict::Unfinished;
        }
        // At the sentinel every remaining call was tried and none fits; at
        // a return, its operation is not linearized yet although it must
        // have taken effect by now. Either way the last choice was wrong.
        let wrong_turn = if entry == list.head {
            true
        } else if list.is_call[entry] {
            let op = list.op[entry];
            if let Some(next) = model.step(state, op) {
                linearized ^= keys[op];
                if seen.insert((linearized, next)) {
                    stack.push((entry, state));
                    state = next;
                    list.lift(entry);
                    entry = list.first();
                    continue;
                }
                linearized ^= keys[op];
            }
            entry = list.next[entry];
            false
        } else {
            if deepest.blocking.is_none() || stack.len() > deepest.linearized.len() {
                deepest = Stuck {
                    linearized: stack.iter().map(|&(e, _)| list.op[e]).collect(),
                    blocking: Some(list.op[entry]),
                };
            }
            true
        };
        if wrong_turn {
            let Some((call, before)) = stack.pop() else {
                return KeyVerdict::Violation { stuck: deepest };
            };
            linearized ^= keys[list.op[call]];
            state = before;
            list.unlift(call);
            entry = list.next[call];
        }
    }
    KeyVerdict::Linearizable
}
