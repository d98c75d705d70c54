//! Validation of the serving and measuring keys of a scenario (replicas,
//! workers, dynamic batching, durations, repetitions, steady state, the SLO
//! search) and of the price.

use serde_saphyr::Spanned;

use super::{Validator, MAX_BATCH_SIZE, MAX_CONCURRENCY};
use crate::config::benchmark::{Arrival, BenchmarkConfig, LoadMode, Scenario};
use crate::config::execution::{Cost, Count, DynamicBatching, Execution, Measurement, Slo, SteadyStateSpec};

/// Most model instances a scenario may load.
pub const MAX_REPLICAS: usize = 64;
/// Most repetitions of a cell.
pub const MAX_REPEAT: usize = 100;
/// Longest a dynamic batch may wait to fill, microseconds (one second).
pub const MAX_WAIT_US: u64 = 1_000_000;

impl Validator<'_> {
    /// `replicas`, `workers_per_model`, `dynamic_batching`: None when the clients call one instance directly.
    pub(super) fn execution(&mut self, i: usize, s: &Scenario) -> Option<Execution> {
        let field = |f: &str| format!("test_scenarios[{i}].{f}");
        if s.replicas.is_none() && s.workers_per_model.is_none() && s.dynamic_batching.is_none() {
            return None;
        }
        if let Some(c) = &s.cache {
            let e = self.at(c, field("cache"), "a cache scenario calls one model instance directly");
            self.err(e.fix("remove replicas, workers_per_model and dynamic_batching from the cache scenario"));
        }
        let replicas = self.count(s.replicas.as_ref(), field("replicas"), MAX_REPLICAS);
        let workers_per_model = self.count(s.workers_per_model.as_ref(), field("workers_per_model"), MAX_CONCURRENCY);
        let dynamic_batching = s.dynamic_batching.as_ref().map(|d| {
            let (b, wait) = (d.value.max_batch_size, d.value.max_wait_us);
            if !(1..=MAX_BATCH_SIZE).contains(&b) || wait > MAX_WAIT_US {
                let e = self.at(
                    d,
                    field("dynamic_batching"),
                    format!("max_batch_size {b} / max_wait_us {wait} is impossible"),
                );
                self.err(e.fix(format!("use max_batch_size in 1..={MAX_BATCH_SIZE} and max_wait_us <= {MAX_WAIT_US}")));
            }
            DynamicBatching { max_batch_size: b, max_wait_us: wait }
        });
        Some(Execution { replicas, workers_per_model, dynamic_batching })
    }

    fn count(&mut self, v: Option<&Spanned<Count>>, field: String, max: usize) -> Count {
        match v {
            None => Count::Auto,
            Some(c) => match c.value {
                Count::N(n) if !(1..=max).contains(&n) => {
                    let name = field.rsplit('.').next().unwrap_or_default().to_string();
                    let e = self.at(c, field, format!("{name} {n} is impossible"));
                    self.err(e.fix(format!("use 1..={max}, or auto")));
                    Count::N(1)
                }
                other => other,
            },
        }
    }

    /// Durations, repetitions and the steady-state check.
    pub(super) fn measurement(&mut self, i: usize, s: &Scenario) -> Measurement {
        let field = |f: &str| format!("test_scenarios[{i}].{f}");
        let mut m = Measurement::default();
        if let Some(d) = &s.warmup_duration_s {
            m.warmup_duration_s = self.seconds(d, field("warmup_duration_s"));
        }
        if let Some(d) = &s.min_duration_s {
            m.min_duration_s = self.seconds(d, field("min_duration_s"));
        }
        if let Some(r) = &s.repeat {
            if !(1..=MAX_REPEAT).contains(&r.value) {
                let e = self.at(r, field("repeat"), format!("repeat {} is impossible", r.value));
                self.err(e.fix(format!("use 1..={MAX_REPEAT} (3 or more gives a confidence interval)")));
            } else {
                m.repeat = r.value;
            }
        }
        if let Some(ss) = &s.steady_state {
            let SteadyStateSpec { windows, max_qps_spread, max_p99_spread } = ss.value.clone();
            let spread_ok = |x: f64| x.is_finite() && x > 0.0;
            if !(3..=100).contains(&windows) || !spread_ok(max_qps_spread) || !spread_ok(max_p99_spread) {
                let e = self.at(
                    ss,
                    field("steady_state"),
                    format!("windows {windows}, max_qps_spread {max_qps_spread}, max_p99_spread {max_p99_spread}: impossible"),
                );
                self.err(e.fix("use 3..=100 windows and spreads > 0, e.g. 0.10 and 0.25"));
            } else {
                m.steady_state = ss.value.clone();
            }
        }
        m
    }

    fn seconds(&mut self, v: &Spanned<f64>, field: String) -> f64 {
        if v.value.is_finite() && (0.0..=86_400.0).contains(&v.value) {
            return v.value;
        }
        let e = self.at(v, field, format!("{} seconds is impossible", v.value));
        self.err(e.fix("use a number of seconds in 0..=86400"));
        0.0
    }

    /// `max_qps_under_slo`. Such a scenario searches the open-loop rate itself,
    /// so it takes no `rate_qps` and no other mode.
    pub(super) fn slo(&mut self, i: usize, s: &Scenario) -> Option<Slo> {
        let spec = s.max_qps_under_slo.as_ref()?;
        let field = format!("test_scenarios[{i}].max_qps_under_slo");
        let fail = |v: &mut Self, msg: String, fix: &str| {
            let e = v.at(spec, field.clone(), msg);
            v.err(e.fix(fix));
        };
        let p = &spec.value;
        if !(p.percentile > 0.0 && p.percentile < 100.0) {
            fail(self, format!("percentile {} is impossible", p.percentile), "use e.g. 99 or 99.9");
        }
        if !(p.bound_ms.is_finite() && p.bound_ms > 0.0) {
            fail(self, format!("bound_ms {} is impossible", p.bound_ms), "use a bound > 0 milliseconds, e.g. 50");
        }
        if !(p.tolerance > 0.0 && p.tolerance < 0.5 && (2..=50).contains(&p.max_probes)) {
            fail(
                self,
                format!("tolerance {} / max_probes {} is impossible", p.tolerance, p.max_probes),
                "use a tolerance in (0, 0.5), e.g. 0.02, and 2..=50 probes",
            );
        }
        if s.rate_qps.is_some() || s.mode.as_ref().is_some_and(|m| m.value != LoadMode::OpenLoop) {
            fail(
                self,
                "the SLO search chooses the open-loop rate itself".into(),
                "remove 'rate_qps' and 'mode' from this scenario",
            );
        }
        if s.cache.is_some() || s.dynamic_batching.is_some() {
            fail(self, "the SLO search runs without a cache or dynamic batching".into(), "use a scenario of its own");
        }
        Some(Slo {
            percentile: p.percentile,
            bound_ms: p.bound_ms,
            tolerance: p.tolerance,
            max_probes: p.max_probes,
            arrival: s.arrival.unwrap_or(Arrival::Poisson),
            seed: s.seed.unwrap_or(42),
        })
    }

    /// The price cells are costed at.
    pub(super) fn cost(&mut self, benchmark: &BenchmarkConfig) -> Cost {
        let Some(c) = &benchmark.cost else { return Cost::default() };
        if !(c.hourly_usd.value.is_finite() && c.hourly_usd.value > 0.0) {
            let e = self.at(&c.hourly_usd, "cost.hourly_usd", format!("price {} is impossible", c.hourly_usd.value));
            self.err(e.fix("use the instance's on-demand price in USD per hour, e.g. 0.714"));
        }
        if c.instance_type.value.trim().is_empty() {
            let e = self.at(&c.instance_type, "cost.instance_type", "the instance type is empty");
            self.err(e.fix("name the instance, e.g. c7i.4xlarge"));
        }
        Cost { instance_type: c.instance_type.value.clone(), hourly_usd: c.hourly_usd.value, default: false }
    }
}
