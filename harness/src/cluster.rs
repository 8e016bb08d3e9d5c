//! Failure clusters: failure messages normalised (numbers, ids, ports and
//! addresses stripped) so that one cause is one cluster, with a count and the
//! lowest-numbered requests as examples. Memory is bounded however long the
//! run.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::outcome::FailureKind;

/// Examples kept per cluster.
pub const EXAMPLES_PER_CLUSTER: usize = 5;
/// Distinct clusters kept; later new messages fold into one overflow cluster.
pub const MAX_CLUSTERS: usize = 256;

/// One failed request, as kept in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The request's index in the run.
    pub request: u64,
    /// The status, if an answer came.
    pub status: Option<u16>,
    /// The message before normalisation (bounded length).
    pub detail: String,
}

/// Failures that share a kind and a normalised message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCluster {
    /// The failure kind.
    pub kind: FailureKind,
    /// The normalised message.
    pub message: String,
    /// How many requests failed this way.
    pub count: u64,
    /// The first few of them.
    pub examples: Vec<Example>,
}

/// Clusters under construction.
#[derive(Clone, Debug, Default)]
pub struct Clusters {
    index: HashMap<(FailureKind, String), usize>,
    clusters: Vec<FailureCluster>,
}

impl Clusters {
    /// Records one failure; returns its cluster's normalised message.
    pub fn record(
        &mut self,
        kind: FailureKind,
        request: u64,
        status: Option<u16>,
        message: &str,
    ) -> &str {
        let mut key = normalise(message);
        if !self.index.contains_key(&(kind, key.clone())) && self.clusters.len() >= MAX_CLUSTERS {
            key = "(other messages: cluster limit reached)".to_owned();
        }
        let detail: String = message.chars().take(300).collect();
        let example = Example {
            request,
            status,
            detail,
        };
        let i = self.add(kind, key, 1, vec![example]);
        &self.clusters[i].message
    }

    fn add(
        &mut self,
        kind: FailureKind,
        message: String,
        count: u64,
        examples: Vec<Example>,
    ) -> usize {
        let i = *self
            .index
            .entry((kind, message.clone()))
            .or_insert_with(|| {
                self.clusters.push(FailureCluster {
                    kind,
                    message,
                    count: 0,
                    examples: Vec::new(),
                });
                self.clusters.len() - 1
            });
        let c = &mut self.clusters[i];
        c.count += count;
        // The examples kept are the lowest-numbered requests seen, whatever
        // order the workers' clusters arrive in.
        for e in examples {
            if c.examples.len() < EXAMPLES_PER_CLUSTER {
                c.examples.push(e);
            } else if let Some(last) = c
                .examples
                .iter_mut()
                .max_by_key(|x| x.request)
                .filter(|x| x.request > e.request)
            {
                *last = e;
            }
        }
        i
    }

    /// Folds another worker's clusters into these.
    pub fn merge(&mut self, other: Vec<FailureCluster>) {
        for c in other {
            let _ = self.add(c.kind, c.message, c.count, c.examples);
        }
    }

    /// The clusters, largest first; examples by request index.
    pub fn into_sorted(self) -> Vec<FailureCluster> {
        let mut clusters = self.clusters;
        for c in &mut clusters {
            c.examples.sort_by_key(|e| e.request);
        }
        clusters.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.kind.cmp(&b.kind))
                .then(a.message.cmp(&b.message))
        });
        clusters
    }
}

/// Strips what varies between occurrences of one cause, so that one cause is
/// one cluster whatever language the server is written in:
///
/// - pointers and object addresses (`0x7fd4f033f390`, Python's
///   `<Lock object at 0x…>`, Go's `0xc000123456`, Rust's `{:p}`) become
///   `<addr>`;
/// - identity hashes after `@` (Java's `HikariProxyConnection@5f2c1b4a`)
///   become `@<id>`;
/// - UUIDs and hex ids (8+ hex characters mixing digits and letters, or 12+
///   with digits) become `<id>`;
/// - IPv4 addresses become `<addr>`, the port after one `<port>`;
/// - other numbers become `<n>` — except status codes and classes (`status
///   500`, `expected 2xx`), which are the cause, not noise.
pub fn normalise(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let hex_run = |from: usize| {
        let mut j = from;
        while j < chars.len() && chars[j].is_ascii_hexdigit() {
            j += 1;
        }
        j
    };
    let word_ends_at = |j: usize| j == chars.len() || !chars[j].is_ascii_alphanumeric();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_word_start = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        // 0x-prefixed hex: a pointer or an address.
        if at_word_start
            && c == '0'
            && matches!(chars.get(i + 1), Some('x' | 'X'))
            && chars.get(i + 2).is_some_and(char::is_ascii_hexdigit)
        {
            let j = hex_run(i + 2);
            if word_ends_at(j) {
                out.push_str("<addr>");
                i = j;
                continue;
            }
        }
        // An identity hash after `@` (Java's Object.toString).
        if c == '@' && chars.get(i + 1).is_some_and(char::is_ascii_hexdigit) {
            let j = hex_run(i + 1);
            if j - (i + 1) >= 4 && word_ends_at(j) {
                out.push_str("@<id>");
                i = j;
                continue;
            }
        }
        if at_word_start && c.is_ascii_hexdigit() {
            // A run of hex digits and dashes: a UUID or a hex id?
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_hexdigit() || chars[j] == '-') {
                j += 1;
            }
            let run = &chars[i..j];
            let digits = run.iter().filter(|c| c.is_ascii_hexdigit()).count();
            let has_digit = run.iter().any(char::is_ascii_digit);
            let has_letter = run.iter().any(|c| c.is_ascii_alphabetic());
            let dashed = run.contains(&'-');
            let id_like = digits >= 12 || (digits >= 8 && (dashed || has_letter));
            if word_ends_at(j) && has_digit && id_like {
                out.push_str("<id>");
                i = j;
                continue;
            }
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let run = run.trim_end_matches('.');
            let end = i + run.chars().count();
            let status_like = out.ends_with("status ")
                || out.ends_with("expected ")
                || chars.get(end) == Some(&'x');
            if status_like {
                // Status codes and classes (`500`, `2xx`) are the cause, not noise.
                out.push_str(run);
            } else if run.split('.').count() == 4 && run.split('.').all(|p| !p.is_empty()) {
                out.push_str("<addr>");
            } else if i > 0 && chars[i - 1] == ':' && out.ends_with("<addr>:") {
                out.push_str("<port>");
            } else {
                out.push_str("<n>");
            }
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_strips_what_varies() {
        assert_eq!(
            normalise("connection to 127.0.0.1:40123 refused after 5 ms"),
            "connection to <addr>:<port> refused after <n> ms"
        );
        assert_eq!(
            normalise("conversation \"96c6459a-a361-4f08-8613-15fd8621545d\" does not exist"),
            "conversation \"<id>\" does not exist"
        );
        assert_eq!(
            normalise("status 500 (expected 2xx)"),
            "status 500 (expected 2xx)"
        );
        assert_eq!(normalise("deadbeef cafe"), "deadbeef cafe");
        assert_eq!(normalise("took 1.5s"), "took <n>s");
        // Ids at the very end of a message, and an `@` too short to be a hash.
        assert_eq!(normalise("lock at 0x7f3a"), "lock at <addr>");
        assert_eq!(
            normalise("HikariProxyConnection@5f2c1b4a"),
            "HikariProxyConnection@<id>"
        );
        assert_eq!(normalise("user x@ab1 refused"), "user x@ab<n> refused");
        assert_eq!(
            normalise("Connection@1234 closed"),
            "Connection@<id> closed"
        );
        // Which runs of hex digits are ids: 12+ digits; 8+ with a letter or
        // a dash; only at the start of a word.
        for (message, normalised) in [
            ("order 123456789012 failed", "order <id> failed"),
            ("took 12345678 us", "took <n> us"),
            ("session deadbeef12 gone", "session <id> gone"),
            ("request 1234-5678 gone", "request <id> gone"),
            ("code ab12 bad", "code ab<n> bad"),
            ("token x1234567890abc", "token x<n>abc"),
            // A port only after an address; a number may start a message.
            ("limit:30 reached", "limit:<n> reached"),
            ("3 retries failed", "<n> retries failed"),
        ] {
            assert_eq!(normalise(message), normalised, "{message}");
        }
    }

    /// Pairs of real messages that differ only in what varies between
    /// occurrences: each pair must be one cluster, and different causes
    /// must stay apart.
    #[test]
    fn one_cause_is_one_cluster_in_every_language() {
        let same = [
            // Python asyncio: object reprs carry addresses, tasks carry numbers.
            (
                "<asyncio.locks.Lock object at 0x7fd4f033f390 [locked]> is bound to a different event loop",
                "<asyncio.locks.Lock object at 0x7f1a2b3c4d50 [locked]> is bound to a different event loop",
            ),
            (
                "Task <Task pending name='Task-17' coro=<handle() running at /app/server.py:42>> got Future <Future pending> attached to a different loop",
                "Task <Task pending name='Task-203' coro=<handle() running at /app/server.py:42>> got Future <Future pending> attached to a different loop",
            ),
            (
                r#"status 503 (expected 2xx): {"error": "pool exhausted at 0x7f3a2c1d9e40"}"#,
                r#"status 503 (expected 2xx): {"error": "pool exhausted at 0x7f3a2c1daf00"}"#,
            ),
            // Go: pointers in %v output, goroutine numbers.
            (
                "sql: connection 0xc000123456 is already closed (goroutine 17)",
                "sql: connection 0xc0001a2b00 is already closed (goroutine 342)",
            ),
            // Java: identity hashes and pool counters.
            (
                "Connection com.zaxxer.hikari.pool.HikariProxyConnection@5f2c1b4a is closed",
                "Connection com.zaxxer.hikari.pool.HikariProxyConnection@1b6d3586 is closed",
            ),
            (
                "HikariPool-1 - Connection is not available, request timed out after 30005ms.",
                "HikariPool-1 - Connection is not available, request timed out after 30012ms.",
            ),
            // Node: stack positions and async ids.
            (
                "Error: SQLITE_BUSY: database is locked at Statement.run (/app/db.js:41:13)",
                "Error: SQLITE_BUSY: database is locked at Statement.run (/app/db.js:41:27)",
            ),
            (
                "Error: connect ECONNREFUSED 127.0.0.1:5432",
                "Error: connect ECONNREFUSED 127.0.0.1:6543",
            ),
            // Rust: thread ids, Arc pointers.
            (
                "thread ThreadId(7) panicked: pool 0x55d3c1a2b3c0 dropped while in use",
                "thread ThreadId(12) panicked: pool 0x55d3c1a2f000 dropped while in use",
            ),
            (
                "waiter dispatch task is gone: request 812 trace 3f9a2c41be07",
                "waiter dispatch task is gone: request 77 trace a81c09f3d2e4",
            ),
        ];
        for (a, b) in same {
            assert_eq!(normalise(a), normalise(b), "\n{a}\n{b}");
        }
        // The address is cut whole, not into `0x<n>f<n>…`.
        assert_eq!(
            normalise("<asyncio.locks.Lock object at 0x7fd4f033f390 [locked]> is bound to a different event loop"),
            "<asyncio.locks.Lock object at <addr> [locked]> is bound to a different event loop"
        );
        let different = [
            (
                "status 503 (expected 2xx): pool exhausted",
                "status 500 (expected 2xx): pool exhausted",
            ),
            ("database is locked", "table conversations already exists"),
            (
                "Lock object at 0x7f00 is bound to a different event loop",
                "Queue object at 0x7f00 is bound to a different event loop",
            ),
        ];
        for (a, b) in different {
            assert_ne!(normalise(a), normalise(b));
        }
    }

    #[test]
    fn varying_addresses_give_one_cluster() {
        let mut c = Clusters::default();
        for i in 0..200u64 {
            c.record(
                FailureKind::Status,
                i,
                Some(503),
                &format!(
                    r#"status 503 (expected 2xx): {{"error": "pool exhausted at 0x7f3a2c{:06x}"}}"#,
                    i * 7919 + 0x1d9e40
                ),
            );
        }
        assert_eq!(c.into_sorted().len(), 1);
    }

    #[test]
    fn clusters_count_and_cap_examples() {
        let mut c = Clusters::default();
        for i in 0..20 {
            c.record(
                FailureKind::Status,
                i,
                Some(500),
                &format!("status 500: item {i} failed"),
            );
        }
        c.record(FailureKind::Timeout, 99, None, "no answer within 5s");
        let sorted = c.into_sorted();
        assert_eq!(sorted.len(), 2);
        assert_eq!(sorted[0].count, 20);
        assert_eq!(sorted[0].examples.len(), EXAMPLES_PER_CLUSTER);
        assert_eq!(sorted[0].message, "status 500: item <n> failed");
        assert_eq!(sorted[1].kind, FailureKind::Timeout);
    }

    #[test]
    fn examples_are_the_lowest_requests_whatever_the_merge_order() {
        // Two workers: one saw the high requests, one the low; merged
        // either way round, the examples are requests 0..5.
        let worker = |from: u64| {
            let mut c = Clusters::default();
            for i in (from..from + 40).step_by(2) {
                c.record(FailureKind::Status, i, Some(500), "status 500");
            }
            c.into_sorted()
        };
        for (a, b) in [(100, 0), (0, 100)] {
            let mut c = Clusters::default();
            c.merge(worker(a));
            c.merge(worker(b));
            let sorted = c.into_sorted();
            let requests: Vec<u64> = sorted[0].examples.iter().map(|e| e.request).collect();
            assert_eq!(requests, [0, 2, 4, 6, 8]);
            assert_eq!(sorted[0].count, 40);
        }
    }

    #[test]
    fn cluster_count_is_bounded() {
        let mut c = Clusters::default();
        for i in 0..(MAX_CLUSTERS as u64 + 50) {
            c.record(
                FailureKind::Check,
                i,
                Some(200),
                &format!("variant {}", "x".repeat(i as usize % 300)),
            );
        }
        assert!(c.into_sorted().len() <= MAX_CLUSTERS + 1);
    }
}
