//! Latency histograms: HdrHistogram in nanoseconds, 3 significant digits.

use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram tracks: one hour, in nanoseconds.
const MAX_NS: u64 = 3_600_000_000_000;

/// One client's (or a merged) latency histogram.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (1 ns to 1 h, 3 significant digits: 0.1 % resolution).
    pub fn new() -> Self {
        Self { inner: Histogram::new_with_bounds(1, MAX_NS, 3).expect("static bounds are valid") }
    }

    /// Records one latency; values past one hour are clamped to one hour.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        let ns = (d.as_nanos() as u64).clamp(1, MAX_NS);
        self.inner.record(ns).expect("value is within bounds");
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.inner.add(&other.inner).expect("same bounds");
    }

    /// Recorded values.
    pub fn len(&self) -> u64 {
        self.inner.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Value at quantile `q` (0..=1), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.inner.value_at_quantile(q) as f64 / 1e6
    }

    /// Mean, percentiles and max in milliseconds, with the percentiles the
    /// sample is too small for named in `below_sample_floor`.
    pub fn summary(&self) -> LatencySummary {
        let ms = |ns: u64| ns as f64 / 1e6;
        let mut summary = LatencySummary {
            count: 0,
            below_sample_floor: Vec::new(),
            mean: self.inner.mean() / 1e6,
            p50: self.quantile_ms(0.50),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            p999: self.quantile_ms(0.999),
            max: ms(self.inner.max()),
            min: ms(self.inner.min()),
            stdev: self.inner.stdev() / 1e6,
        };
        summary.set_count(self.inner.len());
        summary
    }

    /// The histogram in HdrHistogram's V2 encoding, base64: any percentile can be recomputed from it.
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&self.inner, &mut bytes).expect("writing to a Vec cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Decodes [`LatencyHistogram::to_base64`].
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())?;
        let inner: Histogram<u64> =
            Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("{e:?}"))?;
        Ok(Self { inner })
    }
}

/// The percentiles a summary reports, by name.
pub const PERCENTILES: [(&str, f64); 4] = [("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999)];

/// Requests a sample needs for its `q`-quantile to be a figure: at least 10 of
/// them above it, n ≥ 10 / (1 − q) (p50: 20, p95: 200, p99: 1000, p99.9: 10 000).
/// With fewer, the percentile is one of the few largest values, close to the
/// maximum, and says little about the tail (the rule of thumb of HdrHistogram's
/// and wrk2's authors: report a percentile only with many samples beyond it).
pub fn requests_needed(q: f64) -> u64 {
    // 10 / (1 − 0.99) is 1000.000…1 in binary floating point.
    (10.0 / (1.0 - q) - 1e-6).ceil() as u64
}

/// Latency statistics of a cell, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Requests the figures rest on.
    #[serde(default)]
    pub count: u64,
    /// Percentiles (`p50`, `p95`, `p99`, `p99.9`) with fewer than 10 requests above
    /// them ([`requests_needed`]): their values are kept but shown as not enough data.
    #[serde(default)]
    pub below_sample_floor: Vec<String>,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Smallest.
    pub min: f64,
    /// Standard deviation.
    pub stdev: f64,
}

impl LatencySummary {
    /// Sets the sample count, and with it the percentiles below their sample floor.
    pub fn set_count(&mut self, n: u64) {
        self.count = n;
        self.below_sample_floor =
            PERCENTILES.iter().filter(|(_, q)| n < requests_needed(*q)).map(|(name, _)| name.to_string()).collect();
    }

    /// The value of percentile `name` (`p50`, `p95`, `p99`, `p99.9`) when the sample supports it.
    pub fn supported(&self, name: &str) -> Option<f64> {
        if self.below_sample_floor.iter().any(|p| p == name) {
            return None;
        }
        match name {
            "p50" => Some(self.p50),
            "p95" => Some(self.p95),
            "p99" => Some(self.p99),
            "p99.9" => Some(self.p999),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_need_ten_requests_above_them() {
        assert_eq!([0.5, 0.95, 0.99, 0.999].map(requests_needed), [20, 200, 1000, 10_000]);
        let mut h = LatencyHistogram::new();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.below_sample_floor, ["p95", "p99", "p99.9"]);
        assert_eq!((s.supported("p50"), s.supported("p99")), (Some(s.p50), None));
        assert!(s.p99 > 0.0, "the value is kept");
        for ms in 1..=900u64 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.summary().below_sample_floor, ["p99.9"]);
    }

    #[test]
    fn percentiles_and_round_trip() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert!((s.p50 - 500.0).abs() / 500.0 < 0.001, "{s:?}");
        assert!((s.p99 - 990.0).abs() / 990.0 < 0.001, "{s:?}");
        let back = LatencyHistogram::from_base64(&h.to_base64()).unwrap();
        assert_eq!(back.summary(), s.clone());
        let mut merged = LatencyHistogram::new();
        merged.merge(&h);
        merged.merge(&back);
        assert_eq!(merged.len(), 2000);
    }
}
