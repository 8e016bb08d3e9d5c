//! Failure clusters: failure messages normalised (numbers, ids, ports and
//! addresses stripped) so that one cause is one cluster, with a count and the
//! first few examples. Memory is bounded however long the run.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::check::FailureKind;

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
    /// Records one failure.
    pub fn record(&mut self, kind: FailureKind, request: u64, status: Option<u16>, message: &str) {
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
        self.add(kind, key, 1, vec![example]);
    }

    fn add(&mut self, kind: FailureKind, message: String, count: u64, examples: Vec<Example>) {
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
        for e in examples {
            if c.examples.len() < EXAMPLES_PER_CLUSTER {
                c.examples.push(e);
            }
        }
    }

    /// Folds another worker's clusters into these.
    pub fn merge(&mut self, other: Vec<FailureCluster>) {
        for c in other {
            self.add(c.kind, c.message, c.count, c.examples);
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

/// Strips what varies between occurrences of one cause: UUIDs and long hex
/// ids become `<id>`, IPv4 addresses `<addr>`, `:port` `:<port>`, other
/// numbers `<n>`.
pub fn normalise(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_word_start = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if at_word_start && c.is_ascii_hexdigit() {
            // A run of hex digits and dashes: a UUID or a hex id?
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_hexdigit() || chars[j] == '-') {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let word_ends = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            let digits = run.chars().filter(char::is_ascii_hexdigit).count();
            let has_digit = run.chars().any(|c| c.is_ascii_digit());
            if word_ends && has_digit && (digits >= 12 || (run.contains('-') && digits >= 8)) {
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
            let before: String = chars[..i].iter().collect();
            let status_like = before.ends_with("status ")
                || before.ends_with("expected ")
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
