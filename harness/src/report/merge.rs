//! Exact merging: counts add, clusters fold, and percentiles come from the
//! merged HDR histograms, so N runs merge into the report one run would give.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::{endpoint, latency_of, Report, ReportError};
use crate::cluster::Clusters;
use crate::histogram::new_histogram;
use crate::timeline::{Align, Timeline};

impl Report {
    /// Adds another run of the same target and checks: counts add up and
    /// percentiles come from the merged histograms, exactly.
    pub fn merge(&mut self, other: &Report) -> Result<(), ReportError> {
        // Runs on other ports or machines merge; other endpoints do not.
        if self.target.method != other.target.method
            || endpoint(&self.target.url) != endpoint(&other.target.url)
        {
            return Err(ReportError::Mismatch("targets differ (method or path)"));
        }
        let scheme = |url: &str| url.split("://").next().unwrap_or_default().to_owned();
        if scheme(&self.target.url) != scheme(&other.target.url)
            || self.load.http2.is_some() != other.load.http2.is_some()
        {
            return Err(ReportError::Mismatch(
                "protocols differ (http:// or https://, HTTP/1.1 or HTTP/2)",
            ));
        }
        if self.target.body != other.target.body {
            return Err(ReportError::Mismatch(
                "request bodies differ (body template)",
            ));
        }
        if self.histogram.encoding != other.histogram.encoding
            || self.histogram.unit != other.histogram.unit
        {
            return Err(ReportError::Mismatch(
                "histogram settings differ (encoding or unit)",
            ));
        }
        if self.checks != other.checks {
            return Err(ReportError::Mismatch("checks differ"));
        }
        // Runs of one step share the faults' spec (seed, cancel, floor);
        // what was done to the server may differ from trial to trial (a step
        // can end before its fault is due), so a run that saw it keeps it.
        let same_faults = match (&self.faults, &other.faults) {
            (Some(a), Some(b)) => a.same_spec(b),
            (None, Some(f)) | (Some(f), None) => f.is_passive(),
            (None, None) => true,
        };
        if !same_faults {
            return Err(ReportError::Mismatch(
                "faults differ (the runs must share --cancel, --fault, --seed and --recovery-floor)",
            ));
        }
        if self.history.is_some() || other.history.is_some() {
            return Err(ReportError::Mismatch(
                "kv runs are checked as one history each; their histories do not merge",
            ));
        }
        let mut corrected = decode(&self.histogram.corrected)?;
        let mut uncorrected = decode(&self.histogram.uncorrected)?;
        corrected
            .add(decode(&other.histogram.corrected)?)
            .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
        uncorrected
            .add(decode(&other.histogram.uncorrected)?)
            .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
        // Timelines merge before the clusters do: their buckets name
        // clusters by position in each report's own list. If either run has
        // none, the merged buckets could not sum to the totals: none.
        let timeline = match (&self.timeline, &other.timeline) {
            (Some(a), Some(b)) => {
                let mut a = Timeline::from_report(a, &self.cluster_keys())?;
                let b = Timeline::from_report(b, &other.cluster_keys())?;
                // Shards ran side by side; other runs (trials) one after
                // another, and are laid over each other from their starts.
                let align = if other.shard.is_some() {
                    Align::WallClock
                } else {
                    Align::Start
                };
                a.absorb(b, align)?;
                Some(a)
            }
            _ => None,
        };
        self.total += other.total;
        self.passed += other.passed;
        self.faulted += other.faulted;
        for (k, n) in &other.failures_by_kind {
            *self.failures_by_kind.entry(*k).or_default() += n;
        }
        for (a, b) in self.check_failures.iter_mut().zip(&other.check_failures) {
            *a += b;
        }
        for (s, n) in &other.status_codes {
            *self.status_codes.entry(*s).or_default() += n;
        }
        let mut clusters = Clusters::default();
        clusters.merge(std::mem::take(&mut self.failure_clusters));
        clusters.merge(other.failure_clusters.clone());
        self.failure_clusters = clusters.into_sorted();
        // Shards run side by side: the merged run lasted as long as the
        // longest; runs one after another (no shard) add up.
        self.duration_s = if other.shard.is_some() {
            self.duration_s.max(other.duration_s)
        } else {
            self.duration_s + other.duration_s
        };
        self.latency_ms = latency_of(&corrected);
        self.latency_uncorrected_ms = latency_of(&uncorrected);
        self.histogram.corrected = encode(&corrected);
        self.histogram.uncorrected = encode(&uncorrected);
        self.timeline = timeline.map(|t| t.to_report(&self.cluster_keys()));
        match (&mut self.faults, &other.faults) {
            (None, Some(theirs)) => self.faults = Some(theirs.clone()),
            (Some(mine), Some(theirs)) => {
                for (a, b) in mine.proxy.iter_mut().zip(&theirs.proxy) {
                    a.injected += b.injected;
                }
                if mine.server.is_empty() {
                    mine.server.clone_from(&theirs.server);
                    mine.windows.clone_from(&theirs.windows);
                }
            }
            _ => {}
        }
        if let (Some(faults), Some(t)) = (&mut self.faults, &self.timeline) {
            faults.rejudge(t);
        }
        self.recompute();
        Ok(())
    }
}

pub(super) fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram.
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

pub(super) fn decode(s: &str) -> Result<Histogram<u64>, ReportError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ReportError::Histogram(e.to_string()))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
    let mut out = new_histogram();
    out.add(&h)
        .map_err(|e| ReportError::Histogram(format!("{e:?}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip() {
        let mut h = new_histogram();
        for v in [5u64, 100, 2000, 2000, 70_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
    }
}
