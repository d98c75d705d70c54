//! The table printed at the end of a run.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, Table};
use embench_report::fmt::{ms, num};
use embench_runner::CellRecord;

/// One row per cell; invalid cells say so in red instead of showing numbers that look fine.
pub fn table(records: &[CellRecord]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "model",
        "backend",
        "scenario",
        "conc",
        "batch",
        "seq",
        "QPS",
        "emb/s",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "load s",
        "first ms",
        "peak RSS MB",
        "CPU %",
        "threads",
        "precision",
        "min cos",
        "valid",
    ]);
    for r in records {
        let lat = r.latency_ms;
        let scenario = match &r.slo {
            Some(s) => format!(
                "{} [p{} <= {} ms: max {} QPS]",
                r.scenario_label(),
                s.percentile,
                s.bound_ms,
                s.max_qps.map_or("none".into(), |q| format!("{q:.1}"))
            ),
            None => r.scenario_label(),
        };
        let mut row = vec![
            Cell::new(&r.model),
            Cell::new(&r.backend),
            Cell::new(scenario),
            Cell::new(r.concurrency),
            Cell::new(r.batch_size),
            Cell::new(r.seq_len.to_string().trim_matches('"')),
        ];
        if r.valid {
            row.extend([
                Cell::new(num(r.qps, 1)),
                Cell::new(num(r.embeddings_per_s, 1)),
                Cell::new(ms(lat.map(|l| l.mean))),
                Cell::new(ms(lat.map(|l| l.p50))),
                Cell::new(ms(lat.map(|l| l.p95))),
                Cell::new(ms(lat.map(|l| l.p99))),
                Cell::new(ms(lat.map(|l| l.p999))),
                Cell::new(num(r.load_time_s, 3)),
                Cell::new(ms(r.first_request_ms)),
                Cell::new(num(r.peak_rss_mb, 0)),
                Cell::new(num(r.cpu_util_pct, 0)),
                Cell::new(r.threads.map_or("-".into(), |t| t.to_string())),
                Cell::new(r.precision_label()),
                Cell::new(num(r.min_cosine, 5)),
                Cell::new(match (r.steady_state.as_ref().is_some_and(|s| s.unstable), r.warnings.is_empty()) {
                    (true, _) => "yes (UNSTABLE)",
                    (false, true) => "yes",
                    (false, false) => "yes (warnings)",
                })
                .fg(Color::Green),
            ]);
        } else if let Some(why) = &r.skipped {
            row.push(Cell::new(format!("SKIPPED: {why}")).fg(Color::Yellow));
        } else {
            let reason = r.invalid_reason.as_deref().unwrap_or("invalid");
            row.push(Cell::new(format!("INVALID: {reason}")).fg(Color::Red));
        }
        t.add_row(row);
    }
    t
}
