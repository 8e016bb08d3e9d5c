//! Histories made to order, for benchmarks and tests: several clients each
//! issue one operation after another on random keys; every operation takes
//! effect at a random instant inside its interval, and reads return what
//! the register held at that instant — so the history is linearizable by
//! construction, with as much overlap as the clients give it. The same for
//! a compare-and-set register (half the writes are compare-and-sets, half
//! of those from the value they meet, the rest from another, so they fail)
//! and an append register (writes append a token, reads return the text).

use super::{Model, Op, OpKind, Outcome};

/// A small, seedable generator (SplitMix64): the same seed, the same history.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A linearizable register history of `ops` operations over `keys` keys
/// (`k0`…) from `clients` clients, half of them writes.
pub fn linearizable(seed: u64, ops: usize, keys: usize, clients: usize) -> Vec<Op> {
    linearizable_as(Model::Register, seed, ops, keys, clients)
}

/// [`linearizable`], for any model.
pub fn linearizable_as(
    model: Model,
    seed: u64,
    ops: usize,
    keys: usize,
    clients: usize,
) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let clients = clients.max(1);
    let mut clock = vec![0u64; clients];
    // ((effect instant, whether a cas fits), op), applied in effect order.
    let mut planned: Vec<((u64, bool), Op)> = Vec::with_capacity(ops);
    for i in 0..ops {
        let c = i % clients;
        let invoke = clock[c] + rng.below(50);
        let duration = 20 + rng.below(400);
        let complete = invoke + duration;
        clock[c] = complete;
        let effect = invoke + rng.below(duration + 1);
        let kind = match (model, rng.below(4)) {
            (_, 0 | 1) => OpKind::Read,
            (Model::CasRegister, 2) => OpKind::Cas,
            (Model::Append, _) => OpKind::Append,
            _ => OpKind::Write,
        };
        // For a compare-and-set: whether it names the value it will meet.
        let fits = rng.below(2) == 0;
        planned.push((
            (effect, fits),
            Op {
                key: format!("k{}", rng.below(keys.max(1) as u64)),
                kind,
                value: None,
                expected: None,
                text: None,
                invoke_us: invoke,
                complete_us: Some(complete),
                outcome: Outcome::Ok,
            },
        ));
    }
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| planned[i].0 .0);
    let mut state: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut text: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut next_value = 1u64;
    for i in order {
        let ((_, fits), op) = &mut planned[i];
        match op.kind {
            OpKind::Write => {
                op.value = Some(next_value);
                state.insert(op.key.clone(), next_value);
                next_value += 1;
            }
            OpKind::Read if model == Model::Append => {
                op.text = Some(text.get(&op.key).cloned().unwrap_or_default());
            }
            OpKind::Read => op.value = state.get(&op.key).copied(),
            OpKind::Cas => {
                let now = state.get(&op.key).copied();
                op.value = Some(next_value);
                next_value += 1;
                if *fits {
                    op.expected = now;
                    state.insert(op.key.clone(), next_value - 1);
                } else {
                    // 0 is never written: a value it cannot meet.
                    op.expected = Some(now.map_or(0, |v| v.saturating_sub(1)));
                    op.outcome = Outcome::Fail;
                }
            }
            OpKind::Append => {
                let token = super::parse::element(next_value);
                next_value += 1;
                text.entry(op.key.clone()).or_default().push_str(&token);
                op.text = Some(token);
            }
        }
    }
    planned.into_iter().map(|(_, op)| op).collect()
}
