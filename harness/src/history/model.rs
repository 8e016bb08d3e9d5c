//! The models a key's operations are checked against, and their steps.
//!
//! - **register**: read returns the last write; initially absent.
//! - **cas-register**: the register, plus compare-and-set. `cas(expected,
//!   new)` that succeeded (`ok`) took effect where the value was `expected`
//!   (`None`: absent) and set `new`; one that failed (`fail`: a 412, a
//!   Jepsen `:fail`) observed a value other than `expected` and changed
//!   nothing; one whose outcome is unknown (`info`) did one or the other,
//!   at any point after its invocation, or never.
//! - **append**: a text per key, initially empty (absent reads as empty):
//!   `put` sets it, `append` adds to its end, a read returns all of it.
//!   This is Porcupine's key-value model; a list service fits it by writing
//!   each element as its own token (`racegate kv --append`).
//!
//! The search compares states by value, so each model's state is small and
//! `Copy`: an `Option<u64>` for the registers, and for a text a pair of
//! polynomial hashes modulo the Mersenne prime 2⁶¹−1 plus its length, which
//! makes an append O(1) however long the text grows. Two different texts of
//! one length share both hashes with probability about len/2¹²¹.

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::{Op, OpKind, Outcome};

/// What a history's operations mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Read and write.
    Register,
    /// Read, write and compare-and-set.
    CasRegister,
    /// Get, put and append on a text.
    Append,
}

impl Model {
    /// Every model, by name.
    pub const ALL: [Model; 3] = [Model::Register, Model::CasRegister, Model::Append];

    /// Its short name, as `--model` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Model::Register => "register",
            Model::CasRegister => "cas-register",
            Model::Append => "append",
        }
    }

    /// The model by its short name.
    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What it means, in words (the report's `history.model`).
    pub fn description(self) -> &'static str {
        match self {
            Model::Register => super::REGISTER_MODEL,
            Model::CasRegister => {
                "compare-and-set register (read returns the last write or successful cas, initially absent; a failed cas saw another value)"
            }
            Model::Append => {
                "append register (get returns every append since the last put, in order, initially empty)"
            }
        }
    }

    /// The simplest model that gives every operation in `ops` a meaning.
    pub fn infer(ops: &[Op]) -> Model {
        if ops
            .iter()
            .any(|o| o.kind == OpKind::Append || o.text.is_some())
        {
            Model::Append
        } else if ops.iter().any(|o| o.kind == OpKind::Cas) {
            Model::CasRegister
        } else {
            Model::Register
        }
    }

    /// Why `op` has no meaning in this model, if it has none.
    pub fn refuses(self, op: &Op) -> Option<String> {
        let what = match (self, op.kind) {
            (Model::Register, OpKind::Cas) => "a compare-and-set",
            (Model::Register | Model::CasRegister, OpKind::Append) => "an append",
            (Model::Register | Model::CasRegister, _) if op.text.is_some() => "a text value",
            (Model::Append, OpKind::Cas) => "a compare-and-set",
            (Model::Append, OpKind::Read) if op.value.is_some() => "a numeric read",
            (Model::Append, OpKind::Write | OpKind::Append) if op.text.is_none() => {
                "a write without a text"
            }
            _ => return None,
        };
        Some(format!(
            "the {} model cannot take {what} (key {:?}, invoked at {})",
            self.name(),
            op.key,
            op.invoke_us
        ))
    }
}

/// One model's transition function over one key's operations.
pub(super) trait Stepper {
    /// The model's state.
    type State: Copy + Eq + Hash;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// The state after operation `op` takes effect in `state`, or `None`
    /// if it cannot (a read that would return something else).
    fn step(&self, state: Self::State, op: usize) -> Option<Self::State>;
}

/// The register and the compare-and-set register.
pub(super) struct Registers<'a>(pub &'a [&'a Op]);

impl Stepper for Registers<'_> {
    type State = Option<u64>;

    fn init(&self) -> Option<u64> {
        None
    }

    fn step(&self, state: Option<u64>, i: usize) -> Option<Option<u64>> {
        let op = self.0[i];
        match (op.kind, op.outcome) {
            (OpKind::Write, _) => Some(op.value),
            (OpKind::Read, _) => (op.value == state).then_some(state),
            (OpKind::Cas, Outcome::Ok) => (state == op.expected).then_some(op.value),
            (OpKind::Cas, Outcome::Fail) => (state != op.expected).then_some(state),
            (OpKind::Cas, Outcome::Info) => Some(if state == op.expected {
                op.value
            } else {
                state
            }),
            (OpKind::Append, _) => None,
        }
    }
}

const P: u64 = (1 << 61) - 1;
/// Two bases below `P`.
const BASES: [u64; 2] = [0x0d1c_e5a3_7b29_6f11, 0x1a2b_3c4d_5e6f_7183];

fn mul(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    let s = (x as u64 & P) + (x >> 61) as u64;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn add(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

/// A text, by its two hashes and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Text {
    hash: [u64; 2],
    len: u64,
}

/// A text's hashes and the bases raised to its length (to append it).
#[derive(Clone, Copy, Debug, Default)]
struct Piece {
    text: Text,
    shift: [u64; 2],
}

impl Piece {
    fn of(s: &str) -> Piece {
        let mut piece = Piece {
            text: Text::default(),
            shift: [1, 1],
        };
        for &byte in s.as_bytes() {
            for (k, base) in BASES.into_iter().enumerate() {
                piece.text.hash[k] = add(mul(piece.text.hash[k], base), u64::from(byte));
                piece.shift[k] = mul(piece.shift[k], base);
            }
        }
        piece.text.len = s.len() as u64;
        piece
    }
}

/// The append model: each operation's text, hashed once.
pub(super) struct Texts<'a> {
    ops: &'a [&'a Op],
    pieces: Vec<Piece>,
}

impl<'a> Texts<'a> {
    pub(super) fn new(ops: &'a [&'a Op]) -> Self {
        let pieces = ops
            .iter()
            .map(|o| Piece::of(o.text.as_deref().unwrap_or("")))
            .collect();
        Texts { ops, pieces }
    }
}

impl Stepper for Texts<'_> {
    type State = Text;

    fn init(&self) -> Text {
        Text::default()
    }

    fn step(&self, state: Text, i: usize) -> Option<Text> {
        let piece = &self.pieces[i];
        match self.ops[i].kind {
            OpKind::Read => (piece.text == state).then_some(state),
            OpKind::Write => Some(piece.text),
            OpKind::Append => {
                let mut next = Text {
                    hash: [0; 2],
                    len: state.len + piece.text.len,
                };
                for k in 0..2 {
                    next.hash[k] = add(mul(state.hash[k], piece.shift[k]), piece.text.hash[k]);
                }
                Some(next)
            }
            OpKind::Cas => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, value: Option<u64>, text: Option<&str>) -> Op {
        Op {
            key: "k".into(),
            kind,
            value,
            expected: None,
            text: text.map(Into::into),
            invoke_us: 0,
            complete_us: Some(1),
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn models_by_name_and_the_simplest_that_fits() {
        for m in Model::ALL {
            assert_eq!(Model::from_name(m.name()), Some(m));
        }
        assert_eq!(Model::from_name("queue"), None);
        assert!(BASES.iter().all(|&b| b < P));
        let read = op(OpKind::Read, Some(1), None);
        let write = op(OpKind::Write, Some(1), None);
        let cas = op(OpKind::Cas, Some(2), None);
        let text_read = op(OpKind::Read, None, Some("1,"));
        let append = op(OpKind::Append, None, Some("1,"));
        assert_eq!(
            Model::infer(&[read.clone(), write.clone()]),
            Model::Register
        );
        assert_eq!(
            Model::infer(&[read.clone(), cas.clone()]),
            Model::CasRegister
        );
        assert_eq!(
            Model::infer(std::slice::from_ref(&text_read)),
            Model::Append
        );
        assert_eq!(Model::infer(&[append.clone(), cas.clone()]), Model::Append);
        // What each model refuses, and why.
        let refused = |m: Model, o: &Op| {
            m.refuses(o)
                .map(|why| why.split(" (").next().unwrap().to_owned())
        };
        assert_eq!(
            refused(Model::Register, &cas).as_deref(),
            Some("the register model cannot take a compare-and-set")
        );
        assert_eq!(
            refused(Model::CasRegister, &append).as_deref(),
            Some("the cas-register model cannot take an append")
        );
        assert_eq!(
            refused(Model::Register, &text_read).as_deref(),
            Some("the register model cannot take a text value")
        );
        assert_eq!(
            refused(Model::Append, &cas).as_deref(),
            Some("the append model cannot take a compare-and-set")
        );
        assert_eq!(
            refused(Model::Append, &read).as_deref(),
            Some("the append model cannot take a numeric read")
        );
        assert_eq!(
            refused(Model::Append, &write).as_deref(),
            Some("the append model cannot take a write without a text")
        );
        for (m, o) in [
            (Model::Register, &write),
            (Model::CasRegister, &cas),
            (Model::Append, &append),
            (Model::Append, &text_read),
        ] {
            assert_eq!(m.refuses(o), None, "{m:?} {o:?}");
        }
    }

    #[test]
    fn appending_pieces_hashes_as_the_whole_text() {
        let whole = Piece::of("x 0 0 yx 0 1 y");
        let op = |kind, text: &str| Op {
            key: "k".into(),
            kind,
            value: None,
            expected: None,
            text: Some(text.into()),
            invoke_us: 0,
            complete_us: Some(1),
            outcome: Outcome::Ok,
        };
        let ops = [op(OpKind::Append, "x 0 0 y"), op(OpKind::Append, "x 0 1 y")];
        let refs: Vec<&Op> = ops.iter().collect();
        let texts = Texts::new(&refs);
        let after = texts.step(texts.step(texts.init(), 0).unwrap(), 1).unwrap();
        assert_eq!(after, whole.text);
        let other = Piece::of("x 0 1 yx 0 0 y");
        assert_ne!(after, other.text, "order matters");
    }
}
