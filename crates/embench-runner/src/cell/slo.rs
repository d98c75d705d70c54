//! Latency-bounded throughput: the highest open-loop arrival rate whose latency
//! percentile stays under a bound, the figure a capacity planner needs.
//!
//! The search measures the closed-loop capacity first, probes the open loop at
//! that rate, and, when it misses the bound, bisects between 0 and it until the
//! bracket is narrower than the tolerance. A probe passes when every request
//! succeeded, the server kept up with the offered rate (served ≥ 95 % of it) and
//! the percentile is at or under the bound.

use embench_core::config::Slo;
pub use embench_schema::stats::{Probe, SloResult};

/// Share of the offered rate a probe must serve to count as keeping up.
pub const KEEP_UP: f64 = 0.95;

/// Searches with `probe(rate)` (which runs the open loop at `rate` and reports
/// it) for the highest passing rate at or under `capacity`.
pub fn search(slo: &Slo, capacity: f64, mut probe: impl FnMut(f64) -> Probe) -> SloResult {
    let mut result = SloResult {
        percentile: slo.percentile,
        bound_ms: slo.bound_ms,
        capacity_qps: capacity,
        max_qps: None,
        probes: Vec::new(),
        note: String::new(),
    };
    if !(capacity.is_finite() && capacity > 0.0) {
        result.note = "no closed-loop capacity to search under (no request succeeded)".into();
        return result;
    }
    let first = probe(capacity);
    let passed = first.passed;
    result.probes.push(first);
    if passed {
        result.max_qps = Some(capacity);
        result.note = "the bound holds at the closed-loop capacity, the most this concurrency can serve".into();
        return result;
    }
    let (mut lo, mut hi) = (0.0f64, capacity);
    loop {
        if lo > 0.0 && hi - lo <= slo.tolerance * hi {
            result.note = format!("converged: the bracket {lo:.2}..{hi:.2} requests/s is within the tolerance");
            return result;
        }
        if result.probes.len() >= slo.max_probes {
            break;
        }
        let rate = (lo + hi) / 2.0;
        let p = probe(rate);
        if p.passed {
            lo = rate;
            result.max_qps = Some(rate);
        } else {
            hi = rate;
        }
        result.probes.push(p);
    }
    result.note = match result.max_qps {
        Some(_) => format!("stopped after {} probes: the answer lies in {lo:.2}..{hi:.2} requests/s", slo.max_probes),
        None => format!(
            "no rate down to {hi:.3} requests/s met p{} <= {} ms (the bound is below what one request takes, or raise max_probes)",
            slo.percentile, slo.bound_ms
        ),
    };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use embench_core::config::Arrival;

    fn slo(bound_ms: f64) -> Slo {
        Slo { percentile: 99.0, bound_ms, tolerance: 0.02, max_probes: 12, arrival: Arrival::Fixed, seed: 1 }
    }

    /// A queue whose p99 is 2 ms / (1 - rate / 500): a bound of 8 ms holds up to 375 requests/s.
    fn curve(bound_ms: f64) -> impl FnMut(f64) -> Probe {
        move |rate| {
            let p99 = if rate < 500.0 { 2.0 / (1.0 - rate / 500.0) } else { f64::INFINITY };
            Probe { rate_qps: rate, achieved_qps: rate.min(500.0), percentile_ms: p99, passed: p99 <= bound_ms }
        }
    }

    #[test]
    fn bisection_finds_the_knee_of_a_known_curve() {
        let r = search(&slo(8.0), 500.0, curve(8.0));
        let found = r.max_qps.unwrap();
        assert!(found <= 375.0 && found > 375.0 * 0.98, "{found} ({})", r.note);
        assert!(r.note.starts_with("converged"), "{}", r.note);
        assert!(r.probes.len() <= 12);
    }

    #[test]
    fn a_loose_bound_answers_the_capacity_and_an_impossible_one_nothing() {
        let r = search(&slo(1e9), 400.0, curve(1e9));
        assert_eq!((r.max_qps, r.probes.len()), (Some(400.0), 1));
        let r = search(&slo(1.0), 500.0, curve(1.0));
        assert_eq!(r.max_qps, None);
        assert_eq!(r.probes.len(), 12);
        assert!(r.note.contains("no rate"), "{}", r.note);
        // A backend that served nothing has no rate to probe.
        let r = search(&slo(8.0), 0.0, |_| unreachable!("no probe without a capacity"));
        assert_eq!((r.max_qps, r.probes.len()), (None, 0));
    }
}
