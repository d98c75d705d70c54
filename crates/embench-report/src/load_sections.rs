//! Report sections for how load was served and how far the figures can be
//! trusted: replicas × workers and dynamic batching, latency-bounded
//! throughput, repetitions with confidence intervals, steady state and cost.

use std::fmt::Write;

use embench_schema::stats::Estimate;

use crate::fmt::{num, pct};
use crate::runs::Entry;
use crate::table::Table;

fn with_ci(e: &Estimate, digits: usize) -> String {
    match e.ci95 {
        Some((lo, hi)) => format!("{:.digits$} ({lo:.digits$}–{hi:.digits$})", e.mean),
        None => format!("{:.digits$}", e.mean),
    }
}

/// Cells served by replicas × workers, with the batches dynamic batching formed.
pub fn serving_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let served: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.execution.is_some()).collect();
    if served.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Serving: replicas × workers, dynamic batching\n");
    let _ = writeln!(
        md,
        "Each replica is a model instance with its own queue; latency includes the time in the queue. Formed batch = texts per batch the replica ran.\n"
    );
    let mut table = Table::new(&[
        "backend",
        "scenario",
        "conc",
        "replicas × workers × threads",
        "asked",
        "batching",
        "mean formed batch",
        "QPS",
        "emb/s",
        "p50 ms",
        "p99 ms",
    ]);
    for e in served {
        let (r, x) = (e.record, e.record.execution.as_ref().expect("filtered"));
        let batching = match (x.max_batch_size, x.max_wait_us) {
            (Some(b), Some(w)) => format!("≤{b} texts, ≤{w} µs"),
            _ => "off".into(),
        };
        let l = r.latency_ms.clone();
        table.row(&[
            e.series(many_hosts),
            r.scenario.clone(),
            r.concurrency.to_string(),
            format!("{} × {} × {}", x.replicas, x.workers_per_model, x.threads_per_replica),
            x.requested.clone(),
            batching,
            num(x.mean_formed_batch, 2),
            if r.valid { num(r.qps, 1) } else { "INVALID".into() },
            num(r.embeddings_per_s, 1),
            pct(l.as_ref(), "p50"),
            pct(l.as_ref(), "p99"),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}

/// Latency-bounded throughput: the highest open-loop rate meeting each bound.
pub fn slo_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let searched: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.slo.is_some()).collect();
    if searched.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Latency-bounded throughput\n");
    let _ = writeln!(
        md,
        "The highest open-loop arrival rate whose latency percentile stays under the bound (and which the server keeps up with), found by bisection below the closed-loop capacity.\n"
    );
    let mut table = Table::new(&[
        "backend",
        "scenario",
        "conc",
        "batch",
        "bound",
        "closed-loop capacity QPS",
        "max QPS under bound",
        "emb/s at it",
        "probes",
        "how it ended",
    ]);
    for e in searched {
        let (r, s) = (e.record, e.record.slo.as_ref().expect("filtered"));
        table.row(&[
            e.series(many_hosts),
            r.scenario.clone(),
            r.concurrency.to_string(),
            r.batch_size.to_string(),
            format!("p{} ≤ {} ms", s.percentile, s.bound_ms),
            format!("{:.1}", s.capacity_qps),
            s.max_qps.map_or("none".into(), |q| format!("**{q:.1}**")),
            num(s.max_qps.map(|q| q * r.batch_size as f64), 1),
            s.probes.len().to_string(),
            s.note.replace('|', "\\|"),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}

/// Repetitions (mean and 95 % interval), the steady-state check and cost, per measured cell.
pub fn trust_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    // Records from before these figures existed have none of them: no section for those.
    let measured: Vec<&Entry<'_>> = entries
        .iter()
        .filter(|e| e.record.valid && e.record.qps.is_some() && e.record.cache.is_none())
        .filter(|e| e.record.repetitions.is_some() || e.record.steady_state.is_some() || e.record.cost.is_some())
        .collect();
    if measured.is_empty() {
        return;
    }
    let cost = measured.iter().find_map(|e| e.record.cost.as_ref());
    let _ = writeln!(md, "### Repeatability, steady state and cost\n");
    if let Some(c) = cost {
        let _ = writeln!(
            md,
            "Cost = price per hour / (throughput × 3600) × 10⁶, priced as {} at ${}/h (the price the config names; it may not be the machine measured).\n",
            c.instance_type, c.hourly_usd
        );
    }
    let mut table = Table::new(&[
        "backend",
        "scenario",
        "batch",
        "repetitions",
        "QPS (95 % CI)",
        "p99 ms (95 % CI)",
        "steady state (last 3 windows: QPS / p99 spread)",
        "model GFLOP/s",
        "of matmul peak",
        "$ per 1M requests",
        "$ per 1M embeddings",
    ]);
    for e in measured {
        let r = e.record;
        let (reps, qps, p99) = match &r.repetitions {
            Some(rep) => (rep.count.to_string(), with_ci(&rep.qps, 1), with_ci(&rep.p99_ms, 2)),
            None => ("1".into(), num(r.qps, 1), pct(r.latency_ms.as_ref(), "p99")),
        };
        let steady = match &r.steady_state {
            None => "-".to_string(),
            Some(s) if s.not_checked.is_some() => "not checked (too few requests)".into(),
            Some(s) => format!(
                "{} ({:.0} % / {})",
                if s.unstable { "**UNSTABLE**" } else { "stable" },
                s.qps_spread * 100.0,
                if s.p99_judged { format!("{:.0} %", s.p99_spread * 100.0) } else { "p99 not judged".into() }
            ),
        };
        let c = r.cost.as_ref();
        table.row(&[
            e.series(many_hosts),
            r.scenario.clone(),
            r.batch_size.to_string(),
            reps,
            qps,
            p99,
            steady,
            num(r.gflops_per_s, 1),
            r.mfu.map_or("-".into(), |m| format!("{:.0} % of {:.0}", m * 100.0, r.peak_gflops.unwrap_or_default())),
            c.and_then(|c| c.per_1m_requests).map_or("-".into(), |v| format!("{v:.3}")),
            c.and_then(|c| c.per_1m_embeddings).map_or("-".into(), |v| format!("{v:.3}")),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}
