//! `--format csv`: one flat row per cell, every run and host together.

use serde::Serialize;

use crate::runs::{ReportError, Runs};

#[derive(Serialize)]
struct Row<'a> {
    host: &'a str,
    model: &'a str,
    backend: &'a str,
    scenario: &'a str,
    scenario_kind: &'a str,
    cache_phase: Option<&'a str>,
    repeat_ratio: Option<f64>,
    cache_hit_rate: Option<f64>,
    cache_speedup: Option<f64>,
    mode: &'a str,
    concurrency: usize,
    batch_size: usize,
    seq_len: String,
    tokens_per_input_mean: f64,
    requests: u64,
    errors: u64,
    qps: Option<f64>,
    embeddings_per_s: Option<f64>,
    latency_mean_ms: Option<f64>,
    latency_p50_ms: Option<f64>,
    latency_p95_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    latency_p999_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    /// Percentiles above with fewer than 10 requests above them, space-separated.
    latency_below_sample_floor: String,
    load_time_s: Option<f64>,
    first_request_ms: Option<f64>,
    tokenize_ms_per_request: Option<f64>,
    rss_before_load_mb: Option<f64>,
    rss_after_load_mb: Option<f64>,
    peak_rss_mb: Option<f64>,
    cpu_util_pct: Option<f64>,
    framework: &'a str,
    framework_version: &'a str,
    device: &'a str,
    precision: &'a str,
    threads: Option<usize>,
    memory_estimate_mb: Option<f64>,
    skipped: Option<&'a str>,
    repetitions: Option<usize>,
    qps_ci95_low: Option<f64>,
    qps_ci95_high: Option<f64>,
    p99_ci95_low_ms: Option<f64>,
    p99_ci95_high_ms: Option<f64>,
    unstable: Option<bool>,
    replicas: Option<usize>,
    workers_per_model: Option<usize>,
    max_batch_size: Option<usize>,
    mean_formed_batch: Option<f64>,
    slo: Option<String>,
    slo_max_qps: Option<f64>,
    gflop_per_text: Option<f64>,
    gflops_per_s: Option<f64>,
    peak_gflops: Option<f64>,
    mfu: Option<f64>,
    cost_instance: Option<&'a str>,
    cost_per_1m_requests_usd: Option<f64>,
    cost_per_1m_embeddings_usd: Option<f64>,
    valid: bool,
    invalid_reason: Option<&'a str>,
    finished_at: &'a str,
}

/// The 95 % interval of a repeated figure.
fn rep_ci(
    r: &embench_schema::CellRecord,
    pick: impl Fn(&embench_schema::record::Repetitions) -> &embench_schema::stats::Estimate,
) -> Option<(f64, f64)> {
    r.repetitions.as_ref().and_then(|x| pick(x).ci95)
}

/// All cells as CSV (header included).
pub fn cells_csv(runs: &Runs) -> Result<String, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for e in runs.entries() {
        let r = e.record;
        let l = r.latency_ms.as_ref();
        w.serialize(Row {
            host: e.host,
            model: &r.model,
            backend: &r.backend,
            scenario: &r.scenario,
            scenario_kind: r.scenario_kind.as_str(),
            cache_phase: r.cache.as_ref().map(|c| c.phase.as_str()),
            repeat_ratio: r.cache.as_ref().map(|c| c.repeat_ratio),
            cache_hit_rate: r.cache.as_ref().map(|c| c.hit_rate),
            cache_speedup: r.cache.as_ref().and_then(|c| c.speedup),
            mode: r.mode.as_str(),
            concurrency: r.concurrency,
            batch_size: r.batch_size,
            seq_len: e.seq(),
            tokens_per_input_mean: r.tokens_per_input_mean,
            requests: r.requests,
            errors: r.errors,
            qps: r.qps,
            embeddings_per_s: r.embeddings_per_s,
            latency_mean_ms: l.map(|l| l.mean),
            latency_p50_ms: l.map(|l| l.p50),
            latency_p95_ms: l.map(|l| l.p95),
            latency_p99_ms: l.map(|l| l.p99),
            latency_p999_ms: l.map(|l| l.p999),
            latency_max_ms: l.map(|l| l.max),
            latency_below_sample_floor: l.map(|l| l.below_sample_floor.join(" ")).unwrap_or_default(),
            load_time_s: r.load_time_s,
            first_request_ms: r.first_request_ms,
            tokenize_ms_per_request: r.tokenize_ms_per_request,
            rss_before_load_mb: r.rss_before_load_mb,
            rss_after_load_mb: r.rss_after_load_mb,
            peak_rss_mb: r.peak_rss_mb,
            cpu_util_pct: r.cpu_util_pct,
            framework: &r.framework,
            framework_version: &r.framework_version,
            device: &r.device,
            precision: r.precision_name(),
            threads: r.threads,
            memory_estimate_mb: r.memory_estimate_mb,
            skipped: r.skipped.as_deref(),
            repetitions: r.repetitions.as_ref().map(|x| x.count),
            qps_ci95_low: rep_ci(r, |x| &x.qps).map(|c| c.0),
            qps_ci95_high: rep_ci(r, |x| &x.qps).map(|c| c.1),
            p99_ci95_low_ms: rep_ci(r, |x| &x.p99_ms).map(|c| c.0),
            p99_ci95_high_ms: rep_ci(r, |x| &x.p99_ms).map(|c| c.1),
            unstable: r.steady_state.as_ref().filter(|s| s.not_checked.is_none()).map(|s| s.unstable),
            replicas: r.execution.as_ref().map(|x| x.replicas),
            workers_per_model: r.execution.as_ref().map(|x| x.workers_per_model),
            max_batch_size: r.execution.as_ref().and_then(|x| x.max_batch_size),
            mean_formed_batch: r.execution.as_ref().and_then(|x| x.mean_formed_batch),
            slo: r.slo.as_ref().map(|s| format!("p{} <= {} ms", s.percentile, s.bound_ms)),
            slo_max_qps: r.slo.as_ref().and_then(|s| s.max_qps),
            gflop_per_text: r.gflop_per_text,
            gflops_per_s: r.gflops_per_s,
            peak_gflops: r.peak_gflops,
            mfu: r.mfu,
            cost_instance: r.cost.as_ref().map(|c| c.instance_type.as_str()),
            cost_per_1m_requests_usd: r.cost.as_ref().and_then(|c| c.per_1m_requests),
            cost_per_1m_embeddings_usd: r.cost.as_ref().and_then(|c| c.per_1m_embeddings),
            valid: r.valid,
            invalid_reason: r.invalid_reason.as_deref(),
            finished_at: &r.finished_at,
        })
        .map_err(|e| ReportError::Output { path: "csv".into(), message: e.to_string() })?;
    }
    let bytes = w.into_inner().map_err(|e| ReportError::Output { path: "csv".into(), message: e.to_string() })?;
    Ok(String::from_utf8(bytes).expect("csv of UTF-8 strings is UTF-8"))
}
