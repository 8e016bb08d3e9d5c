//! Markdown that survives any message a server sends: one cell escaper for
//! every table racegate writes.

/// Text made safe for one Markdown table cell: pipes escaped, line breaks
/// and other control characters flattened to spaces, backticks kept paired.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text as inline code in a table cell: backticks inside are replaced so the
/// span cannot end early.
pub fn code(s: &str) -> String {
    format!("`{}`", cell(&s.replace('`', "'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x `y` | z"), "`x 'y' \\| z`");
    }
}
