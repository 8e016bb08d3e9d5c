//! Latency histograms and the one place percentiles are read from them.
//!
//! - [`new_histogram`]: the run's HDR histograms (3 significant figures),
//!   one per thread's workers, merged exactly and carried in `report.json`.
//! - [`CoarseHistogram`]: a timeline bucket's, log-linear with eight bins
//!   per power of two (a value known within 12.5 %), at most ~1 KiB.
//! - [`Quantiles`] and [`percentile_ms`]: how a report's, a bucket's and the
//!   live line's percentiles are read from either, in milliseconds.

use hdrhistogram::Histogram;

/// Highest latency the histograms track (longer ones saturate), in µs.
pub const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// A fresh latency histogram (µs, 3 significant figures). It starts out
/// covering up to ~16 ms and grows only when a slower answer arrives, so each
/// worker's histogram stays tens of KiB on fast targets instead of ~190 KiB.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 16_384, 3)
        .unwrap_or_else(|_| unreachable!("static bounds are valid"));
    h.auto(true);
    h
}

pub fn record(h: &mut Histogram<u64>, micros: u64) {
    // Auto-resizing cannot fail below the bound; beyond it, saturate.
    let _ = h.record(micros.min(MAX_LATENCY_MICROS));
}

/// A histogram percentiles can be read from.
pub trait Quantiles {
    /// The latency at quantile `q` (0 to 1; 1 is the maximum) in µs; 0 when
    /// empty.
    fn quantile_us(&self, q: f64) -> u64;
}

impl Quantiles for Histogram<u64> {
    fn quantile_us(&self, q: f64) -> u64 {
        if q >= 1.0 {
            self.max()
        } else {
            self.value_at_quantile(q)
        }
    }
}

impl Quantiles for CoarseHistogram {
    fn quantile_us(&self, q: f64) -> u64 {
        if q >= 1.0 {
            self.max()
        } else {
            self.quantile(q)
        }
    }
}

/// The latency at quantile `q` in milliseconds.
pub fn percentile_ms(h: &impl Quantiles, q: f64) -> f64 {
    h.quantile_us(q) as f64 / 1000.0
}

/// A serialised coarse histogram names a bin that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBin(pub u64);

/// Bins of [`CoarseHistogram`]: enough for an hour in microseconds.
const BINS: usize = 16 + 8 * 29;

/// Latencies in log-linear bins, eight per power of two: a value is known
/// within 12.5 %, and a bucket's histogram is at most ~1 KiB.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoarseHistogram {
    counts: Vec<u32>,
    total: u64,
    max_us: u64,
}

fn bin_of(us: u64) -> usize {
    let v = us.max(1);
    if v < 16 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros() as usize;
    let sub = ((v >> (octave - 3)) & 7) as usize;
    (16 + (octave - 4) * 8 + sub).min(BINS - 1)
}

/// The smallest value in bin `b`.
fn bin_low(b: usize) -> u64 {
    if b < 16 {
        return b as u64;
    }
    let (octave, sub) = ((b - 16) / 8 + 4, (b - 16) % 8);
    (8 + sub as u64) << (octave - 3)
}

impl CoarseHistogram {
    /// Records one latency in µs.
    pub fn record(&mut self, us: u64) {
        let b = bin_of(us);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] = self.counts[b].saturating_add(1);
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &CoarseHistogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Latencies recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The largest latency, exact, in µs.
    pub fn max(&self) -> u64 {
        self.max_us
    }

    /// The latency at quantile `q` in µs: the middle of its bin, never above
    /// the maximum. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &n) in self.counts.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                let (lo, hi) = (bin_low(b), bin_low(b + 1));
                return ((lo + hi) / 2).min(self.max_us);
            }
        }
        self.max_us
    }

    /// The non-empty bins as `[bin, count]`.
    pub fn bins(&self) -> Vec<[u64; 2]> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(b, &n)| [b as u64, u64::from(n)])
            .collect()
    }

    /// Rebuilds a histogram from [`bins`](Self::bins) and its maximum.
    pub fn from_bins(bins: &[[u64; 2]], max_us: u64) -> Result<Self, BadBin> {
        let mut h = CoarseHistogram::default();
        for &[b, n] in bins {
            let b = usize::try_from(b)
                .ok()
                .filter(|&b| b < BINS)
                .ok_or(BadBin(b))?;
            if h.counts.len() <= b {
                h.counts.resize(b + 1, 0);
            }
            h.counts[b] = h.counts[b].saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            h.total += n;
        }
        h.max_us = max_us;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_values_in_order() {
        let mut last = 0;
        for v in 1..100_000u64 {
            let b = bin_of(v);
            assert!(b >= last, "bins ascend");
            assert!(bin_low(b) <= v && v < bin_low(b + 1), "{v} in bin {b}");
            last = b;
        }
        assert_eq!(bin_of(3_600_000_000), bin_of(3_600_000_000).min(BINS - 1));
        assert!(bin_of(u64::MAX) < BINS);
    }

    #[test]
    fn quantiles_are_within_an_eighth() {
        let mut h = CoarseHistogram::default();
        for v in 1..=1000u64 {
            h.record(v * 100);
        }
        for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0)] {
            let got = h.quantile(q) as f64;
            assert!(
                (got - exact).abs() / exact <= 0.125,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.max(), 100_000);
        let back = CoarseHistogram::from_bins(&h.bins(), h.max()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn both_histograms_read_percentiles_the_same_way() {
        let mut hdr = new_histogram();
        let mut coarse = CoarseHistogram::default();
        for v in 1..=1000u64 {
            record(&mut hdr, v * 100);
            coarse.record(v * 100);
        }
        // HDR's maximum is known to its three significant figures.
        assert!((percentile_ms(&hdr, 1.0) - 100.0).abs() <= 0.1);
        assert_eq!(percentile_ms(&coarse, 1.0), 100.0);
        let (a, b) = (percentile_ms(&hdr, 0.5), percentile_ms(&coarse, 0.5));
        assert!((a - b).abs() / a <= 0.125, "{a} vs {b}");
        assert_eq!(percentile_ms(&CoarseHistogram::default(), 0.99), 0.0);
    }
}
