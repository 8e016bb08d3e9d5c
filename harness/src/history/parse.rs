//! Reading a history from a file: racegate's own JSON lines (one [`Op`]
//! per line, as `racegate kv --out` writes `history.jsonl`), Jepsen's
//! `jepsen.util` log lines (`INFO  jepsen.util - 3 :invoke :cas [1 4]`) and
//! Jepsen's EDN operation maps (`{:process 0, :type :invoke, :f :append,
//! :key "0", :value "x"}`). The format is recognised line by line; blank
//! lines and log lines that are not operations are skipped.
//!
//! Jepsen's lines carry no clock racegate can trust, but their order is the
//! real-time order of the events, so each event's time is its line number
//! (from 1): distinct, and ordered as the file is. An invocation is paired with the
//! next completion of the same process: `:ok` completes it, `:fail` says it
//! did not take effect (for a `cas`: that it saw another value), `:info`
//! (or no completion before the file ends, or the process invoking again)
//! leaves its outcome unknown.

use std::collections::HashMap;

use super::{Op, OpKind, Outcome};

/// A value as Jepsen writes it.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Nil,
    Int(u64),
    Str(String),
    Keyword(String),
    Vector(Vec<Value>),
}

/// One line of a Jepsen history: who, what stage, which function, the key
/// and the value.
struct Event {
    process: u64,
    stage: String,
    f: String,
    key: String,
    value: Value,
}

/// The operations read from a file.
#[derive(Debug)]
pub struct Parsed {
    /// Every operation, by invocation.
    pub ops: Vec<Op>,
    /// Whether their times are a clock's (µs, racegate's JSON lines) or
    /// line numbers (Jepsen's formats).
    pub clocked: bool,
}

/// Reads every operation in `text`. An error names the line.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut ops = Vec::new();
    let mut jepsen = false;
    let mut open: HashMap<u64, (usize, Event)> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let line = line.trim();
        let time = n as u64 + 1;
        if line.is_empty() {
            continue;
        }
        let event = if line.starts_with("{\"") {
            let op: Op = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
            ops.push(op);
            continue;
        } else if line.starts_with("{:") {
            jepsen = true;
            edn_event(line).map_err(at)?
        } else if let Some(rest) = line.split_once("jepsen.util -").map(|(_, r)| r) {
            jepsen = true;
            util_event(rest).map_err(at)?
        } else {
            continue;
        };
        if event.stage == "invoke" {
            if let Some((_, earlier)) = open.remove(&event.process) {
                ops.push(op_of(&earlier, None, Outcome::Info, time).map_err(at)?);
            }
            open.insert(event.process, (n, event));
            continue;
        }
        let Some((started, invoked)) = open.remove(&event.process) else {
            return Err(at(format!(
                "process {} completes an operation it never invoked",
                event.process
            )));
        };
        if invoked.f != event.f {
            return Err(at(format!(
                "process {} invoked {} but completes {}",
                event.process, invoked.f, event.f
            )));
        }
        let outcome = match event.stage.as_str() {
            "ok" => Outcome::Ok,
            "fail" => Outcome::Fail,
            "info" => Outcome::Info,
            other => return Err(at(format!("unknown :type :{other}"))),
        };
        let mut op = op_of(&invoked, Some(&event), outcome, started as u64 + 1).map_err(at)?;
        op.complete_us = (outcome != Outcome::Info).then_some(time);
        ops.push(op);
    }
    let mut rest: Vec<(usize, Event)> = open.into_values().collect();
    rest.sort_by_key(|(n, _)| *n);
    for (n, invoked) in rest {
        ops.push(
            op_of(&invoked, None, Outcome::Info, n as u64 + 1)
                .map_err(|e| format!("line {}: {e}", n + 1))?,
        );
    }
    ops.sort_by_key(|o| o.invoke_us);
    Ok(Parsed {
        ops,
        clocked: !jepsen,
    })
}

/// The operation `invoked` (completed by `done`), invoked at `time`.
fn op_of(invoked: &Event, done: Option<&Event>, outcome: Outcome, time: u64) -> Result<Op, String> {
    let mut op = Op {
        key: invoked.key.clone(),
        kind: OpKind::Read,
        value: None,
        expected: None,
        text: None,
        invoke_us: time,
        complete_us: None,
        outcome,
    };
    let bad = |what: &str, v: &Value| Err(format!("{} with {what} {v:?}", invoked.f));
    match invoked.f.as_str() {
        "read" | "get" => {
            // The value read is on the completion (the invocation has nil).
            let value = done.map_or(&Value::Nil, |d| &d.value);
            match (value, outcome) {
                (Value::Nil, _) => {}
                (Value::Int(v), _) => op.value = Some(*v),
                (Value::Str(s), _) => op.text = Some(s.clone()),
                (Value::Vector(items), _) => op.text = Some(list_text(items)?),
                (Value::Keyword(_), Outcome::Fail | Outcome::Info) => {}
                (v, _) => return bad("the value", v),
            }
        }
        "write" | "put" => {
            op.kind = OpKind::Write;
            match &invoked.value {
                Value::Int(v) => op.value = Some(*v),
                Value::Str(s) => op.text = Some(s.clone()),
                v => return bad("the value", v),
            }
        }
        "append" => {
            op.kind = OpKind::Append;
            op.text = Some(match &invoked.value {
                Value::Str(s) => s.clone(),
                Value::Int(v) => element(*v),
                v => return bad("the value", v),
            });
        }
        "cas" => {
            op.kind = OpKind::Cas;
            let Value::Vector(pair) = &invoked.value else {
                return bad("the value", &invoked.value);
            };
            match pair.as_slice() {
                [from, Value::Int(to)] => {
                    op.expected = match from {
                        Value::Int(v) => Some(*v),
                        Value::Nil => None,
                        v => return bad("the expected value", v),
                    };
                    op.value = Some(*to);
                }
                _ => return bad("the value", &invoked.value),
            }
        }
        other => return Err(format!("unknown operation :{other}")),
    }
    Ok(op)
}

/// How an integer element of a list is written in the append model's text:
/// each element its own token, so a list reads back as the text its
/// appends made.
pub fn element(v: u64) -> String {
    format!("{v},")
}

fn list_text(items: &[Value]) -> Result<String, String> {
    items
        .iter()
        .map(|v| match v {
            Value::Int(v) => Ok(element(*v)),
            other => Err(format!("a list element {other:?} that is not an integer")),
        })
        .collect()
}

/// `3 :invoke :cas [1 4]` (the part after `jepsen.util -`).
fn util_event(rest: &str) -> Result<Event, String> {
    let mut tokens = Tokens::new(rest);
    let Some(Value::Int(process)) = tokens.value()? else {
        return Err("no process number".into());
    };
    let (Some(Value::Keyword(stage)), Some(Value::Keyword(f))) = (tokens.value()?, tokens.value()?)
    else {
        return Err("expected :type and :f keywords".into());
    };
    let value = tokens.value()?.unwrap_or(Value::Nil);
    Ok(Event {
        process,
        stage,
        f,
        key: String::new(),
        value,
    })
}

/// `{:process 0, :type :invoke, :f :append, :key "0", :value "x"}`.
fn edn_event(line: &str) -> Result<Event, String> {
    let mut tokens = Tokens::new(line);
    if tokens.next_char() != Some('{') {
        return Err("expected an EDN map".into());
    }
    let (mut process, mut stage, mut f, mut key, mut value) =
        (None, None, None, String::new(), Value::Nil);
    loop {
        tokens.skip_space();
        if tokens.peek() == Some('}') {
            break;
        }
        let Some(Value::Keyword(name)) = tokens.value()? else {
            return Err("expected a keyword in the map".into());
        };
        let v = tokens.value()?.ok_or("a key without a value")?;
        match (name.as_str(), v) {
            ("process", Value::Int(p)) => process = Some(p),
            ("type", Value::Keyword(t)) => stage = Some(t),
            ("f", Value::Keyword(name)) => f = Some(name),
            ("key", Value::Str(k)) => key = k,
            ("key", Value::Int(k)) => key = k.to_string(),
            ("value", v) => value = v,
            _ => {}
        }
    }
    Ok(Event {
        process: process.ok_or("no :process")?,
        stage: stage.ok_or("no :type")?,
        f: f.ok_or("no :f")?,
        key,
        value,
    })
}

/// A reader of EDN values: nil, integers, strings, keywords, vectors.
struct Tokens<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            chars: s.chars().peekable(),
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn next_char(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.next()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace() || c == ',') {
            self.chars.next();
        }
    }

    fn word(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ',' | '}' | ']' | '[' | '{') {
                break;
            }
            s.push(c);
            self.chars.next();
        }
        s
    }

    /// The next value, `None` at the end (or before a closing bracket).
    fn value(&mut self) -> Result<Option<Value>, String> {
        self.skip_space();
        match self.peek() {
            None | Some('}' | ']') => Ok(None),
            Some('"') => {
                self.chars.next();
                let mut s = String::new();
                loop {
                    match self.chars.next() {
                        None => return Err("an unterminated string".into()),
                        Some('"') => return Ok(Some(Value::Str(s))),
                        Some('\\') => match self.chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(c) => s.push(c),
                            None => return Err("an unterminated string".into()),
                        },
                        Some(c) => s.push(c),
                    }
                }
            }
            Some(':') => {
                self.chars.next();
                Ok(Some(Value::Keyword(self.word())))
            }
            Some('[') => {
                self.chars.next();
                let mut items = Vec::new();
                while let Some(v) = self.value()? {
                    items.push(v);
                }
                if self.chars.next() != Some(']') {
                    return Err("an unterminated vector".into());
                }
                Ok(Some(Value::Vector(items)))
            }
            Some(_) => {
                let w = self.word();
                match w.as_str() {
                    "nil" => Ok(Some(Value::Nil)),
                    _ => w
                        .parse()
                        .map(|v| Some(Value::Int(v)))
                        .map_err(|_| format!("cannot read {w:?}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jepsen_log_lines_pair_by_process_and_keep_unknowns_open() {
        let log = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 1\t:invoke\t:cas\t[3 0]\n\
                   INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                   INFO  jepsen.util - 0\t:ok\t:read\t3\n\
                   INFO  jepsen.util - 1\t:fail\t:cas\t[3 0]\n\
                   INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                   some other log line\n\
                   INFO  jepsen.util - 3\t:invoke\t:write\t1\n";
        let ops = parse(log).unwrap().ops;
        assert_eq!(ops.len(), 4);
        assert_eq!(
            (ops[0].kind, ops[0].value, ops[0].complete_us),
            (OpKind::Read, Some(3), Some(4))
        );
        assert_eq!(
            (ops[1].kind, ops[1].expected, ops[1].value, ops[1].outcome),
            (OpKind::Cas, Some(3), Some(0), Outcome::Fail)
        );
        assert_eq!((ops[2].outcome, ops[2].complete_us), (Outcome::Info, None));
        assert_eq!(
            (ops[3].value, ops[3].outcome, ops[3].invoke_us),
            (Some(1), Outcome::Info, 8)
        );
    }

    #[test]
    fn edn_maps_carry_keys_and_texts() {
        let log = r#"{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
{:process 1, :type :invoke, :f :get, :key "4", :value nil}
{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}
{:process 1, :type :ok, :f :get, :key "4", :value "x 0 1 y"}
{:process 2, :type :invoke, :f :get, :key 7, :value nil}
{:process 2, :type :ok, :f :get, :key 7, :value [1 2]}"#;
        let ops = parse(log).unwrap().ops;
        assert_eq!(ops[0].key, "4");
        assert_eq!(
            (ops[0].kind, ops[0].text.as_deref()),
            (OpKind::Append, Some("x 0 1 y"))
        );
        assert_eq!(
            (ops[1].kind, ops[1].text.as_deref(), ops[1].complete_us),
            (OpKind::Read, Some("x 0 1 y"), Some(4))
        );
        assert_eq!(
            (ops[2].key.as_str(), ops[2].text.as_deref()),
            ("7", Some("1,2,"))
        );
    }

    #[test]
    fn unreadable_lines_are_named() {
        let e = parse("{:process 0, :type :ok, :f :read, :value 1}").unwrap_err();
        assert!(e.starts_with("line 1: process 0 completes"), "{e}");
        let e = parse("ok\n{:process x}").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse("{\"key\": 1}").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
    }
}
