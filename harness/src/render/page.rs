//! The frame of every racegate HTML page: one self-contained document with
//! its CSS inline. Nothing is fetched — no script, font, stylesheet or
//! image — so a page opens the same offline, from a CI artifact or a mail —
//! and the one HTML escape every page uses.

/// Escapes text for HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document titled `title` around `body` (already HTML).
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title>\n<style>{CSS}</style></head>\n<body>\n{body}\n\
<footer>racegate {} · one self-contained file: nothing here is loaded from anywhere else</footer>\n</body></html>\n",
        escape(title),
        env!("CARGO_PKG_VERSION")
    )
}

const CSS: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:20px 28px;color:#1d1d1f;background:#fafafa}\
h1{font-size:22px;margin:0 0 6px} h2{font-size:17px;margin:18px 0 6px} h3{font-size:15px;margin:14px 0 4px}\
.ok{color:#1e7b34} .bad{color:#b3261e} .muted{color:#666} .err{color:#b3261e}\
.verdict{font-weight:600;padding:6px 10px;border-radius:6px;display:inline-block;margin:4px 0}\
.verdict.ok{background:#e3f4e8} .verdict.bad{background:#fbe5e3}\
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}\
.panel{box-sizing:border-box;background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 12px;flex:0 1 546px;max-width:546px}\
.panel svg{display:block;margin:6px 0;max-width:100%;height:auto}\
table{border-collapse:collapse;margin:8px 0;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2} td.n{text-align:right;font-variant-numeric:tabular-nums}\
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}\
code{font:12px ui-monospace,monospace;background:#f0f0f0;padding:1px 4px;border-radius:3px}\
footer{margin-top:28px;color:#888;font-size:12px}";
