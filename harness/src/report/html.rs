//! `report.html`: a run as one self-contained page — the gate's verdict and
//! the summary, then the story over time: throughput (passed and failed
//! stacked), latency p50/p99, failures by cluster, and the latency
//! distribution by percentile. `repro` lays several runs side by side with
//! [`Scales`] shared, so a bug's build and its fix read on the same axes.

use std::fmt::Write as _;

use super::Report;
use crate::render::chart::{self, palette, Frame, Layer, Line};
use crate::render::page::{self, escape};
use crate::render::text::{percent, truncate};
use crate::timeline::TimelineReport;

/// Clusters drawn apart in the failures chart; the rest are "other".
const CLUSTERS_DRAWN: usize = 5;

/// Axis ranges that panels drawn side by side share.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scales {
    /// Seconds from the start.
    pub seconds: f64,
    /// Requests per second (throughput and failures charts).
    pub per_second: f64,
    /// Latency over time, ms.
    pub latency_ms: f64,
    /// Latency by percentile, ms.
    pub distribution_ms: f64,
}

impl Scales {
    /// Ranges that cover every one of `reports`.
    pub fn covering<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Self {
        let mut s = Scales::default();
        for r in reports {
            if let Some(t) = &r.timeline {
                let width = t.bucket_ms as f64 / 1000.0;
                s.seconds = s.seconds.max(t.buckets.len() as f64 * width);
                for b in &t.buckets {
                    s.per_second = s.per_second.max(b.sent as f64 / width);
                    if let Some(l) = &b.latency_ms {
                        s.latency_ms = s.latency_ms.max(l.p99);
                    }
                }
            }
            s.distribution_ms = s
                .distribution_ms
                .max(distribution(r).last().map_or(0.0, |p| p.1));
        }
        s
    }
}

/// `(quantile, ms)` points of the run's latency histogram.
fn distribution(r: &Report) -> Vec<(f64, f64)> {
    let Ok(h) = super::merge::decode(&r.histogram.corrected) else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    chart::distribution_quantiles()
        .into_iter()
        .map(|q| (q, h.value_at_quantile(q) as f64 / 1000.0))
        .collect()
}

impl Report {
    /// `report.html`.
    pub fn to_html(&self) -> String {
        let title = format!("racegate: {} {}", self.target.method, self.target.url);
        let body = format!(
            "<h1>{}</h1>\n<div class=\"row\">{}</div>",
            escape(&title),
            self.html_panel(None, &Scales::covering([self]))
        );
        page::document(&title, &body)
    }

    /// This run as one panel: verdict, summary, charts on `scales`.
    pub fn html_panel(&self, heading: Option<&str>, scales: &Scales) -> String {
        let mut s = String::from("<section class=\"panel\">\n");
        if let Some(h) = heading {
            let _ = writeln!(s, "<h3>{}</h3>", escape(h));
        }
        let (class, verdict) = if self.gate.passed {
            ("ok", "gate passed".to_owned())
        } else {
            (
                "bad",
                format!("gate failed: {}", self.gate.reasons.join("; ")),
            )
        };
        let _ = writeln!(
            s,
            "<div class=\"verdict {class}\">{}</div>",
            escape(&verdict)
        );
        self.summary_table(&mut s);
        match &self.timeline {
            Some(t) if t.buckets.iter().any(|b| b.sent > 0) => self.charts(&mut s, t, scales),
            _ => s.push_str("<p class=\"muted\">No timeline in this run.</p>\n"),
        }
        let points = distribution(self);
        if !points.is_empty() {
            s.push_str(&chart::percentiles(
                &Frame {
                    title: "latency by percentile",
                    y_desc: "ms",
                    x_max: 1.0,
                    y_max: scales.distribution_ms,
                    shade: &[],
                },
                &[Line {
                    name: "latency",
                    color: palette::P50,
                    points,
                }],
            ));
        }
        self.clusters_table(&mut s);
        s.push_str("</section>\n");
        s
    }

    /// The fault windows, in seconds on `t`'s axis (from its first bucket).
    fn fault_spans(&self, t: &TimelineReport) -> Vec<(f64, f64)> {
        let Some(faults) = &self.faults else {
            return Vec::new();
        };
        let offset = faults.start_unix_ms as f64 - t.start_unix_ms as f64;
        faults
            .windows
            .iter()
            .map(|w| {
                (
                    (offset + w.from_ms as f64) / 1000.0,
                    (offset + w.to_ms as f64) / 1000.0,
                )
            })
            .collect()
    }

    fn summary_table(&self, s: &mut String) {
        let [lo, hi] = self.pass_rate_ci95;
        let l = &self.latency_ms;
        let rows = [
            (
                "requests",
                format!(
                    "{} ({} passed, {} failed){}",
                    self.total,
                    self.passed,
                    self.failed,
                    if self.halted { ", stopped early" } else { "" }
                ),
            ),
            (
                "pass rate",
                format!(
                    "{} (95% CI {}–{})",
                    percent(self.pass_rate),
                    percent(lo),
                    percent(hi)
                ),
            ),
            (
                "throughput",
                format!(
                    "{:.0} req/s over {:.2} s, {} workers",
                    self.requests_per_second, self.duration_s, self.load.concurrency
                ),
            ),
            (
                "latency",
                format!(
                    "p50 {:.2} · p90 {:.2} · p99 {:.2} · p99.9 {:.2} · max {:.2} ms",
                    l.p50, l.p90, l.p99, l.p999, l.max
                ),
            ),
        ];
        s.push_str("<table>\n");
        for (k, v) in rows {
            let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
        }
        if let Some(h) = &self.history {
            let _ = writeln!(
                s,
                "<tr><th>history</th><td>{:?} ({} ops, {} keys)</td></tr>",
                h.verdict, h.ops, h.keys
            );
        }
        s.push_str("</table>\n");
    }

    fn charts(&self, s: &mut String, t: &TimelineReport, scales: &Scales) {
        let width = t.bucket_ms as f64 / 1000.0;
        let shade = self.fault_spans(t);
        let rate = |f: &dyn Fn(&crate::timeline::BucketReport) -> u64| -> Vec<f64> {
            t.buckets.iter().map(|b| f(b) as f64 / width).collect()
        };
        s.push_str(&chart::stacked_bars(
            &Frame {
                title: "throughput",
                y_desc: "requests/s",
                x_max: scales.seconds,
                y_max: scales.per_second,
                shade: &shade,
            },
            width,
            &[
                Layer {
                    name: "passed",
                    color: palette::PASS,
                    values: rate(&|b| b.passed),
                },
                Layer {
                    name: "failed",
                    color: palette::FAIL,
                    values: rate(&|b| b.failed),
                },
            ],
        ));
        let mid = |i: usize| (i as f64 + 0.5) * width;
        let latency = |pick: fn(&crate::timeline::BucketLatency) -> f64| {
            t.buckets
                .iter()
                .enumerate()
                .filter_map(|(i, b)| b.latency_ms.as_ref().map(|l| (mid(i), pick(l))))
                .collect::<Vec<_>>()
        };
        s.push_str(&chart::lines(
            &Frame {
                title: "latency over time",
                y_desc: "ms",
                x_max: scales.seconds,
                y_max: scales.latency_ms,
                shade: &shade,
            },
            "seconds from start",
            width * 1.5,
            &[
                Line {
                    name: "p99",
                    color: palette::P99,
                    points: latency(|l| l.p99),
                },
                Line {
                    name: "p50",
                    color: palette::P50,
                    points: latency(|l| l.p50),
                },
            ],
        ));
        if self.failed == 0 {
            s.push_str("<p class=\"ok\">No failures at any time.</p>\n");
            return;
        }
        let drawn = self.failure_clusters.len().min(CLUSTERS_DRAWN);
        let names: Vec<String> = (0..drawn).map(|c| format!("cluster {}", c + 1)).collect();
        let mut layers: Vec<Layer<'_>> = names
            .iter()
            .enumerate()
            .map(|(c, name)| Layer {
                name,
                color: palette::CLUSTERS[c],
                values: t
                    .buckets
                    .iter()
                    .map(|b| {
                        b.failed_by_cluster
                            .iter()
                            .filter(|[i, _]| *i == c as u64)
                            .map(|[_, n]| *n)
                            .sum::<u64>() as f64
                            / width
                    })
                    .collect(),
            })
            .collect();
        let other: Vec<f64> = t
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let named: f64 = layers.iter().map(|l| l.values[i]).sum();
                (b.failed as f64 / width - named).max(0.0)
            })
            .collect();
        if other.iter().any(|&v| v > 0.0) {
            layers.push(Layer {
                name: "other",
                color: palette::CLUSTERS[CLUSTERS_DRAWN],
                values: other,
            });
        }
        s.push_str(&chart::stacked_bars(
            &Frame {
                title: "failures by cluster",
                y_desc: "failures/s",
                x_max: scales.seconds,
                y_max: scales.per_second,
                shade: &shade,
            },
            width,
            &layers,
        ));
    }

    fn clusters_table(&self, s: &mut String) {
        if self.failure_clusters.is_empty() {
            return;
        }
        s.push_str(
            "<table>\n<tr><th>cluster</th><th>count</th><th>kind</th><th>failure</th></tr>\n",
        );
        for (i, c) in self.failure_clusters.iter().take(8).enumerate() {
            let color = palette::CLUSTERS[i.min(CLUSTERS_DRAWN)];
            let _ = writeln!(
                s,
                "<tr><td><span class=\"swatch\" style=\"background:rgb({},{},{})\"></span>{}</td><td class=\"n\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
                color.0,
                color.1,
                color.2,
                if i < CLUSTERS_DRAWN { format!("{}", i + 1) } else { "other".into() },
                c.count,
                c.kind.name(),
                escape(&truncate(&c.message, 160))
            );
        }
        s.push_str("</table>\n");
    }
}
