//! Rust against Python: each Python baseline beside the Rust backend of the same
//! framework, precision and cell, and the worker protocol's own cost (python-echo).

use std::fmt::Write;

use embench_schema::CellRecord;

use crate::fmt::{num, pct};
use crate::runs::Entry;
use crate::table::Table;

/// The Rust framework a Python baseline is compared with.
fn rust_counterpart(python: &CellRecord) -> Option<&'static str> {
    match python.framework.as_str() {
        "python-ort" => Some("ort"),
        // Both the eager model and the TorchScript export are PyTorch; tch runs the export.
        "python-torch" => Some("tch"),
        "python-openvino" => Some("openvino"),
        _ => None,
    }
}

pub(crate) fn same_cell(a: &Entry<'_>, b: &Entry<'_>) -> bool {
    let (x, y) = (a.record, b.record);
    a.host == b.host
        && x.scenario == y.scenario
        && x.concurrency == y.concurrency
        && x.batch_size == y.batch_size
        && x.precision == y.precision
        && x.cache.is_none()
        && y.cache.is_none()
}

pub(crate) fn ratio(rust: Option<f64>, python: Option<f64>) -> String {
    match (rust, python) {
        (Some(r), Some(p)) if p > 0.0 => format!("{:.2}×", r / p),
        _ => "-".into(),
    }
}

/// Rust ÷ Python throughput per cell both ran, and python-echo's share of each
/// Python baseline's median latency.
pub fn rust_vs_python(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let valid = |e: &&Entry<'_>| e.record.valid;
    let python: Vec<&Entry<'_>> =
        entries.iter().filter(valid).filter(|e| rust_counterpart(e.record).is_some()).collect();
    let mut rows = Vec::new();
    for p in &python {
        let want = rust_counterpart(p.record).expect("filtered");
        for r in entries.iter().filter(valid).filter(|r| r.record.framework == want && same_cell(p, r)) {
            rows.push((*p, r));
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Rust against Python\n");
    let _ = writeln!(
        md,
        "Each framework's Python API (a worker process of the venv's python, measured by the same runner) beside its Rust binding, same cell and precision. Rust ÷ Python > 1: Rust is faster. Peak RSS of a Python baseline includes its worker process.\n"
    );
    let mut table = Table::new(&[
        "scenario",
        "conc",
        "batch",
        "Python",
        "Rust",
        "Python emb/s",
        "Rust emb/s",
        "Rust ÷ Python",
        "Python p50 ms",
        "Rust p50 ms",
        "Python peak RSS MB",
        "Rust peak RSS MB",
    ]);
    for (p, r) in rows {
        let (pr, rr) = (p.record, r.record);
        table.row(&[
            pr.scenario.clone(),
            pr.concurrency.to_string(),
            pr.batch_size.to_string(),
            p.series(many_hosts),
            r.series(many_hosts),
            num(pr.embeddings_per_s, 1),
            num(rr.embeddings_per_s, 1),
            ratio(rr.embeddings_per_s, pr.embeddings_per_s),
            pct(pr.latency_ms.as_ref(), "p50"),
            pct(rr.latency_ms.as_ref(), "p50"),
            num(pr.peak_rss_mb, 0),
            num(rr.peak_rss_mb, 0),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
    echo_overhead(md, entries, &python, many_hosts);
}

/// python-echo's median latency as a share of each Python baseline's, cell by cell.
fn echo_overhead(md: &mut String, entries: &[Entry<'_>], python: &[&Entry<'_>], many_hosts: bool) {
    let echoes = entries.iter().filter(|e| e.record.valid && e.record.framework == "python-echo");
    let mut lines = Vec::new();
    for echo in echoes {
        let Some(e50) = echo.record.latency_ms.as_ref().map(|l| l.p50) else { continue };
        for p in python.iter().filter(|p| {
            p.host == echo.host
                && p.record.scenario == echo.record.scenario
                && p.record.batch_size == echo.record.batch_size
                && p.record.concurrency == echo.record.concurrency
        }) {
            if let Some(p50) = p.record.latency_ms.as_ref().map(|l| l.p50).filter(|&v| v > 0.0) {
                lines.push(format!(
                    "- {}, batch {}: the protocol alone (python-echo) takes {e50:.3} ms at the median, {:.2} % of {}'s {p50:.2} ms.",
                    echo.record.scenario,
                    echo.record.batch_size,
                    100.0 * e50 / p50,
                    p.series(many_hosts)
                ));
            }
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(md, "Worker protocol overhead (token ids to the worker, vectors back, over pipes):\n");
        let _ = writeln!(md, "{}\n", lines.join("\n"));
    }
}
