//! Numbers and text for people: percentages that never hide a failure,
//! one-line excerpts, truncation.

/// `0.1234` → `12.34%`, trimmed. Never rounds to `100%` or `0%` unless it
/// is exactly that: a verdict must not hide the one failure in 100,000.
pub fn percent(x: f64) -> String {
    let fmt = |digits: usize| {
        let s = format!("{:.*}", digits, x * 100.0);
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        format!("{s}%")
    };
    let exact_edge = x >= 1.0 || x <= 0.0;
    let mut digits = 2;
    let mut s = fmt(digits);
    while !exact_edge && (s == "100%" || s == "0%") && digits < 8 {
        digits += 1;
        s = fmt(digits);
    }
    s
}

/// `rate (lo–hi)`, the way every report writes a pass rate.
pub fn rate_with_interval(rate: f64, ci: [f64; 2]) -> String {
    format!("{} ({}–{})", percent(rate), percent(ci[0]), percent(ci[1]))
}

/// The first `max` characters of a body, as text on one line.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max * 4)]);
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// `s` cut to `n` characters, with `…` if anything was cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_readable() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.12), "12%");
        assert_eq!(percent(0.9963), "99.63%");
        assert_eq!(percent(0.99999), "99.999%");
        assert_eq!(percent(0.00001), "0.001%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn excerpts_are_one_line() {
        assert_eq!(excerpt(b"a\nb", 10), "a b");
        assert_eq!(excerpt(b"abcdef", 3), "abc…");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
