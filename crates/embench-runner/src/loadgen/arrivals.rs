//! Open-loop arrival schedules: when each request is due, from the start.

use embench_core::config::{Arrival, Mode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Offsets (seconds from the start) at which requests `0..n` are due, or None
/// when the mode has no schedule (closed loop; offline has everything due at 0).
pub fn schedule(mode: &Mode, n: u64) -> Option<Vec<f64>> {
    match *mode {
        Mode::ClosedLoop => None,
        Mode::Offline => Some(vec![0.0; n as usize]),
        Mode::OpenLoop { rate_qps, arrival: Arrival::Fixed, .. } => Some((0..n).map(|i| i as f64 / rate_qps).collect()),
        Mode::OpenLoop { rate_qps, arrival: Arrival::Poisson, seed } => {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut t = 0.0;
            Some(
                (0..n)
                    .map(|_| {
                        let due = t;
                        // Exponential gap by inversion; 1 - u is in (0, 1].
                        t += -(1.0 - rng.random::<f64>()).ln() / rate_qps;
                        due
                    })
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kolmogorov–Smirnov: the Poisson gaps are exponential with the asked rate, at alpha = 0.01.
    #[test]
    fn poisson_gaps_pass_a_ks_test_against_the_exponential() {
        let rate = 250.0;
        let n = 20_000;
        let due = schedule(&Mode::OpenLoop { rate_qps: rate, arrival: Arrival::Poisson, seed: 9 }, n).unwrap();
        let mut gaps: Vec<f64> = due.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let m = gaps.len() as f64;
        let d = gaps
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let cdf = 1.0 - (-rate * g).exp();
                (cdf - i as f64 / m).abs().max(((i + 1) as f64 / m - cdf).abs())
            })
            .fold(0.0, f64::max);
        let critical = 1.628 / m.sqrt();
        assert!(d < critical, "KS statistic {d:.5} >= critical value {critical:.5}");
        // A fixed schedule has equal gaps of 1 / rate.
        let fixed = schedule(&Mode::OpenLoop { rate_qps: rate, arrival: Arrival::Fixed, seed: 0 }, 100).unwrap();
        assert!((fixed[1] - fixed[0] - 1.0 / rate).abs() < 1e-12);
    }

    #[test]
    fn closed_loop_has_no_schedule_and_offline_is_all_due_at_once() {
        assert!(schedule(&Mode::ClosedLoop, 5).is_none());
        assert_eq!(schedule(&Mode::Offline, 3).unwrap(), vec![0.0; 3]);
    }
}
