//! Terminal output every command shares: result lines on stdout that survive
//! a closed pipe, and one-line warnings on stderr.

use std::io::Write as _;

/// Writes a line to stdout. A closed stdout (`racegate … | head -1`) is not
/// an error worth dying for: the exit code still carries the verdict.
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.trim_end_matches('\n'));
}

/// Writes `racegate: {text}` to stderr.
pub fn warn(text: impl std::fmt::Display) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "racegate: {text}");
}

/// Writes a line to stderr as it is: a summary kept off stdout (beside
/// `--json`), where it would spoil the JSON.
pub fn aside(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", text.trim_end_matches('\n'));
}
