//! Whether a measurement can be trusted: steady-state windows within one
//! measured phase, and mean ± 95 % confidence interval over repetitions.

use embench_core::config::SteadyStateSpec;
pub use embench_schema::stats::{Estimate, SteadyState, Window};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::loadgen::rate;

/// Fewest requests a window needs for its throughput to be compared.
pub const MIN_WINDOW_REQUESTS: usize = 20;

/// Fewest requests a window needs for its p99 to be compared: with fewer, the
/// window's p99 is its maximum, and one slow request would flag the cell.
pub const MIN_P99_WINDOW_REQUESTS: usize = 100;

/// A p99 spread counts only when the windows' p99s also differ by more than this (ms):
/// microseconds of jitter are not instability a user would act on.
pub const P99_FLOOR_MS: f64 = 0.05;

/// Modified z-score (Iglewicz and Hoaglin) above which a repetition is an outlier.
pub const OUTLIER_Z: f64 = 3.5;

/// Cuts `timeline` (end time s, latency ms) into `spec.windows` windows of equal
/// time and compares the last three. Offline runs (`judge_p99` false) are judged
/// by throughput only: their latency is time in a queue that drains, growing by design.
pub fn steady_state(timeline: &[(f32, f32)], spec: &SteadyStateSpec, judge_p99: bool) -> SteadyState {
    let k = spec.windows.max(3);
    let (lo, hi) = timeline.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(t, _)| (lo.min(t), hi.max(t)));
    let span = (hi - lo) as f64;
    let mut buckets: Vec<Vec<f32>> = vec![Vec::new(); k];
    if span > 0.0 {
        for &(t, ms) in timeline {
            let w = (((t - lo) as f64 / span * k as f64) as usize).min(k - 1);
            buckets[w].push(ms);
        }
    }
    let windows: Vec<Window> = buckets
        .into_iter()
        .map(|mut ms| {
            ms.sort_by(f32::total_cmp);
            let p99 = ms.get(((0.99 * ms.len() as f64).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
            Window { requests: ms.len(), qps: rate(ms.len() as u64, span / k as f64), p99_ms: p99 as f64 }
        })
        .collect();
    let last = &windows[k - 3..];
    let fewest = last.iter().map(|w| w.requests).min().unwrap_or(0);
    if span <= 0.0 || fewest < MIN_WINDOW_REQUESTS {
        return SteadyState {
            windows,
            qps_spread: 0.0,
            p99_spread: 0.0,
            unstable: false,
            p99_judged: false,
            not_checked: Some(format!(
                "too few requests: the last three of {k} windows need {MIN_WINDOW_REQUESTS} each (fix: more requests or min_duration_s)"
            )),
        };
    }
    let qps_spread = spread(last.iter().map(|w| w.qps));
    let p99_spread = spread(last.iter().map(|w| w.p99_ms));
    let (p99_lo, p99_hi) =
        last.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), w| (lo.min(w.p99_ms), hi.max(w.p99_ms)));
    let p99_judged = judge_p99 && fewest >= MIN_P99_WINDOW_REQUESTS;
    let p99_unstable = p99_judged && p99_spread > spec.max_p99_spread && p99_hi - p99_lo > P99_FLOOR_MS;
    SteadyState {
        unstable: qps_spread > spec.max_qps_spread || p99_unstable,
        p99_judged,
        windows,
        qps_spread,
        p99_spread,
        not_checked: None,
    }
}

/// (max - min) / mean.
fn spread(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values.clone().fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mean = sum / n.max(1) as f64;
    if mean > 0.0 {
        (hi - lo) / mean
    } else {
        0.0
    }
}

/// Mean, interval and outliers of `values`.
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let ci95 = (n >= 2).then(|| {
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).expect("degrees of freedom > 0").inverse_cdf(0.975);
        let half = t * (var / n as f64).sqrt();
        (mean - half, mean + half)
    });
    Estimate { mean, ci95, values: values.to_vec(), outliers: outliers(values) }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Indices of outliers by the modified z-score; none below three values or when the MAD is 0.
pub fn outliers(values: &[f64]) -> Vec<usize> {
    if values.len() < 3 {
        return Vec::new();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let med = median(&sorted);
    let mut dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    if mad <= 0.0 {
        return Vec::new();
    }
    values.iter().enumerate().filter(|(_, v)| (0.6745 * (*v - med) / mad).abs() > OUTLIER_Z).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_traffic_is_stable_and_a_slowdown_is_not() {
        let spec = SteadyStateSpec::default();
        // 100 requests/s for 5 s, 10 ms each.
        let steady: Vec<(f32, f32)> = (0..500).map(|i| (i as f32 / 100.0, 10.0)).collect();
        let s = steady_state(&steady, &spec, true);
        assert!(!s.unstable && s.not_checked.is_none(), "{s:?}");
        assert_eq!(s.windows.len(), 5);
        assert!(s.windows.iter().all(|w| (w.qps - 100.0).abs() < 3.0), "{:?}", s.windows);
        // The last second slows to 50 requests/s at 40 ms.
        let mut slowing: Vec<(f32, f32)> = (0..400).map(|i| (i as f32 / 100.0, 10.0)).collect();
        slowing.extend((0..50).map(|i| (4.0 + i as f32 / 50.0, 40.0)));
        let s = steady_state(&slowing, &spec, true);
        assert!(s.unstable && s.qps_spread > 0.4 && s.p99_spread > 1.0, "{s:?}");
        // The same p99 jump at an unchanged rate: judged only with 100 requests a window.
        let mut slower: Vec<(f32, f32)> =
            (0..500).map(|i| (i as f32 / 100.0, if i >= 400 { 40.0 } else { 10.0 })).collect();
        let s = steady_state(&slower, &spec, true);
        assert!(s.unstable && s.p99_judged, "{s:?}");
        assert!(!steady_state(&slower, &spec, false).unstable, "offline: throughput only");
        slower.truncate(250);
        slower.iter_mut().skip(200).for_each(|r| r.1 = 40.0);
        let s = steady_state(&slower, &spec, true);
        assert!(!s.unstable && !s.p99_judged, "50 a window: the p99 is the maximum, not judged: {s:?}");
        // Microseconds of p99 jitter are not instability.
        let tiny: Vec<(f32, f32)> = (0..500).map(|i| (i as f32 / 100.0, if i > 300 { 0.004 } else { 0.001 })).collect();
        let s = steady_state(&tiny, &spec, true);
        assert!(s.p99_spread >= 1.0 && !s.unstable, "{s:?}");
        // Ten requests cannot be judged.
        let s = steady_state(&steady[..10], &spec, true);
        assert!(!s.unstable && s.not_checked.is_some());
    }

    #[test]
    fn confidence_interval_matches_students_t() {
        // n = 5, mean 10, sample variance 3 / 4: half-width t(0.975, 4) * sqrt(0.75 / 5).
        let v = [9.0, 10.0, 11.0, 10.0 + 0.5f64.sqrt(), 10.0 - 0.5f64.sqrt()];
        let e = estimate(&v);
        let (lo, hi) = e.ci95.unwrap();
        let half = 2.776_445 * (0.75f64 / 5.0).sqrt();
        assert!((e.mean - 10.0).abs() < 1e-12);
        assert!((hi - 10.0 - half).abs() < 1e-4 && (10.0 - lo - half).abs() < 1e-4, "{lo} {hi}");
        assert!(estimate(&[3.0]).ci95.is_none());
    }

    #[test]
    fn a_far_repetition_is_flagged() {
        assert_eq!(outliers(&[100.0, 101.0, 99.0, 100.5, 60.0]), vec![4]);
        assert!(outliers(&[100.0, 101.0, 99.0, 100.5, 98.0]).is_empty());
        assert!(outliers(&[1.0, 50.0]).is_empty());
    }
}
