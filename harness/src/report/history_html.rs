//! `history.html`: one self-contained page (inline SVG and CSS, nothing
//! fetched) showing a history violation the way Porcupine does: the
//! offending key's operations as bars on a time axis, one row each, the
//! ones that prove the violation outlined, and the impossible point marked.

use std::fmt::Write as _;

use crate::history::{HistoryCheck, Op, OpKind, Outcome, Verdict};
use crate::render::page::escape;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 90.0;
const ROW: f64 = 22.0;
/// Room on the right for the last tick's label and the "impossible" mark.
const RIGHT: f64 = 90.0;
const MAX_ROWS: usize = 80;

fn label(op: &Op) -> String {
    let short = |t: &Option<String>| {
        let t = t.as_deref().unwrap_or("");
        match t.char_indices().nth(10) {
            Some((at, _)) => format!("\"{}…\"", &t[..at]),
            None => format!("{t:?}"),
        }
    };
    let v = |v: Option<u64>| v.map_or_else(|| "∅".to_owned(), |v| v.to_string());
    match op.kind {
        OpKind::Write if op.text.is_some() => format!("P {}", short(&op.text)),
        OpKind::Write => format!("W {}", v(op.value)),
        OpKind::Read if op.text.is_some() => format!("R {}", short(&op.text)),
        OpKind::Read => format!("R {}", v(op.value)),
        OpKind::Cas => format!("C {}→{}", v(op.expected), v(op.value)),
        OpKind::Append => format!("A {}", short(&op.text)),
    }
}

/// The page for `check`, drawing the counterexample key's operations from
/// `ops` (every operation of the run).
pub fn page(check: &HistoryCheck, ops: &[Op], title: &str) -> String {
    let mut s = String::new();
    let verdict = match check.verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::Violation => "NOT linearizable",
        Verdict::Unknown => "unknown (the check ran out of budget)",
    };
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}}\
h1{{font-size:20px}} .bad{{color:#b3261e}} .ok{{color:#1e7b34}}\
table{{border-collapse:collapse;margin:12px 0}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\
svg text{{font:12px monospace}} .axis{{stroke:#999}} .w{{fill:#7aa2e8}} .r{{fill:#8fd19e}}\
.proof{{stroke:#b3261e;stroke-width:2.5}} .info{{fill-opacity:.35;stroke-dasharray:4 3;stroke:#555}}\
</style></head><body>\n",
        escape(title)
    );
    let class = if check.verdict == Verdict::Linearizable {
        "ok"
    } else {
        "bad"
    };
    let _ = writeln!(
        s,
        "<h1>{}</h1>\n<p>History: <b class=\"{class}\">{verdict}</b> — {} operations over {} keys, checked against a {} in {:.1} ms.</p>",
        escape(title),
        check.ops,
        check.keys,
        escape(&check.model),
        check.check_ms
    );
    let Some(cx) = &check.counterexample else {
        s.push_str("</body></html>\n");
        return s;
    };
    let _ = writeln!(s, "<p class=\"bad\"><b>{}</b></p>", escape(&cx.explanation));
    // The window: the proof's span, with a margin, and the key's operations in it.
    let lo = cx.ops.iter().map(|o| o.invoke_us).min().unwrap_or(0);
    let hi = cx
        .ops
        .iter()
        .map(|o| o.complete_us.unwrap_or(o.invoke_us))
        .max()
        .unwrap_or(lo)
        .max(lo + 1);
    let margin = (hi - lo) / 4 + 1;
    let (from, to) = (lo.saturating_sub(margin), hi + margin);
    let mut rows: Vec<&Op> = ops
        .iter()
        .filter(|o| o.key == cx.key && o.outcome != Outcome::Fail)
        .filter(|o| o.invoke_us <= to && o.complete_us.is_none_or(|c| c >= from))
        .collect();
    rows.sort_by_key(|o| (o.invoke_us, o.complete_us));
    let is_proof = |o: &Op| cx.ops.iter().any(|p| p == o);
    if rows.len() > MAX_ROWS {
        let mut kept: Vec<&Op> = rows.iter().copied().filter(|o| is_proof(o)).collect();
        for o in &rows {
            if kept.len() >= MAX_ROWS {
                break;
            }
            if !is_proof(o) {
                kept.push(o);
            }
        }
        kept.sort_by_key(|o| (o.invoke_us, o.complete_us));
        rows = kept;
    }
    let span = (to - from).max(1) as f64;
    let x = |t: u64| LEFT + (t.clamp(from, to) - from) as f64 / span * (WIDTH - LEFT - RIGHT);
    let height = 40.0 + ROW * rows.len() as f64;
    let _ = writeln!(
        s,
        "<p>Key <code>{}</code>, {} operations between {:.3} and {:.3} ms. Outlined: the operations that prove it. Dashed: writes never acknowledged, which may or may not have taken effect.</p>",
        escape(&cx.key),
        rows.len(),
        from as f64 / 1000.0,
        to as f64 / 1000.0
    );
    let _ = writeln!(
        s,
        "<svg width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"operations of {} on a time axis\">",
        escape(&cx.key)
    );
    for i in 0..=5 {
        let t = from + (to - from) * i / 5;
        let px = x(t);
        let _ = writeln!(
            s,
            "<line class=\"axis\" x1=\"{px:.1}\" y1=\"20\" x2=\"{px:.1}\" y2=\"{height}\"/><text x=\"{px:.1}\" y=\"14\" text-anchor=\"middle\">{:.3} ms</text>",
            t as f64 / 1000.0
        );
    }
    let mut impossible: Option<(f64, f64)> = None;
    let last_proof = cx
        .ops
        .iter()
        .max_by_key(|o| o.complete_us.unwrap_or(o.invoke_us));
    for (i, op) in rows.iter().enumerate() {
        let y = 26.0 + ROW * i as f64;
        let x0 = x(op.invoke_us);
        let x1 = op.complete_us.map_or(WIDTH - RIGHT, &x).max(x0 + 2.0);
        let mut class = String::from(if op.kind == OpKind::Read { "r" } else { "w" });
        if op.outcome == Outcome::Info {
            class.push_str(" info");
        }
        if is_proof(op) {
            class.push_str(" proof");
        }
        let _ = writeln!(
            s,
            "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\"><title>{} {}: {:.3}–{} ms</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x1 - x0,
            ROW - 6.0,
            escape(&label(op)),
            escape(&cx.key),
            op.invoke_us as f64 / 1000.0,
            op.complete_us
                .map_or_else(|| "?".to_owned(), |c| format!("{:.3}", c as f64 / 1000.0)),
            LEFT - 6.0,
            y + ROW - 10.0,
            escape(&label(op))
        );
        if last_proof == Some(op) {
            impossible = Some((x1, y));
        }
    }
    if let Some((px, y)) = impossible {
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" y1=\"20\" x2=\"{px:.1}\" y2=\"{height}\" stroke=\"#b3261e\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b3261e\" font-weight=\"bold\">✗ impossible</text>",
            px + 4.0,
            y + ROW - 10.0
        );
    }
    s.push_str("</svg>\n<table><tr><th>operation</th><th>invoked (ms)</th><th>completed (ms)</th><th>outcome</th></tr>\n");
    for op in &cx.ops {
        let _ = writeln!(
            s,
            "<tr><td>{} {}</td><td>{:.3}</td><td>{}</td><td>{:?}</td></tr>",
            escape(&label(op)),
            escape(&cx.key),
            op.invoke_us as f64 / 1000.0,
            op.complete_us.map_or_else(
                || "never acknowledged".to_owned(),
                |c| format!("{:.3}", c as f64 / 1000.0)
            ),
            op.outcome
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}
