//! Number formatting shared by the terminal table, markdown and CSV.

use embench_schema::histogram::LatencySummary;

/// `v` with `digits` decimals, or `-` when not measured.
pub fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// Milliseconds with at least 3 significant digits, so sub-microsecond figures do not print as 0.00.
pub fn ms(v: Option<f64>) -> String {
    match v {
        Some(x) if x > 0.0 && x < 10.0 => {
            let digits = (2 - x.log10().floor() as i32).clamp(2, 9) as usize;
            format!("{x:.digits$}")
        }
        other => num(other, 2),
    }
}

/// Shown for a percentile the cell has too few requests for.
pub const THIN: &str = "—";

/// What [`THIN`] means, for a note under a table.
pub const THIN_NOTE: &str = "— : too few requests for that percentile to mean more than the largest few (it needs 10 above it: p95 200, p99 1000, p99.9 10 000 requests; raise num_requests or min_duration_s). The value is kept in results.jsonl (latency_ms.below_sample_floor).";

/// Percentile `name` (`p50`, `p95`, `p99`, `p99.9`) of `l` in milliseconds, [`THIN`]
/// when the sample is too small for it, `-` when not measured.
pub fn pct(l: Option<&LatencySummary>, name: &str) -> String {
    match l {
        None => "-".into(),
        Some(l) => l.supported(name).map_or_else(|| THIN.to_string(), |v| ms(Some(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_latencies_keep_their_digits() {
        assert_eq!(ms(Some(0.000123)), "0.000123");
        assert_eq!(ms(Some(1.5)), "1.50");
        assert_eq!(ms(Some(48.25)), "48.25");
        assert_eq!(ms(None), "-");
        assert_eq!(num(Some(19.44), 1), "19.4");
    }
}
