//! ONNX Runtime's bindings side by side: the C++ API (ort-native), Rust (ort) and
//! Python (python-ort) on the same library, graph, session options and cell.

use std::fmt::Write;

use embench_schema::CellRecord;

use crate::fmt::{num, pct};
use crate::python_sections::{ratio, same_cell};
use crate::runs::Entry;
use crate::table::Table;

/// Whether `a` and `b` ran ONNX Runtime alike: the same intra-op threads, and the same
/// graph optimisation, execution mode, inter-op threads and number of sessions (ort's
/// `sessions`, ort-native's worker processes, python-ort's `processes`) wherever both
/// records state them.
fn same_session_options(a: &CellRecord, b: &CellRecord) -> bool {
    let sessions = |r: &CellRecord| {
        let text = r.backend_settings.get("sessions").or_else(|| r.backend_settings.get("processes"))?;
        text.split_whitespace().next()?.parse::<usize>().ok()
    };
    let agree = |key: &str| match (a.backend_settings.get(key), b.backend_settings.get(key)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    a.threads == b.threads
        && ["graph_optimization", "execution_mode", "inter_op_threads"].into_iter().all(agree)
        && match (sessions(a), sessions(b)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// One row per cell ort-native ran validly beside ort or python-ort with the same
/// session options ([`same_session_options`]): each one's embeddings/s and p50, and
/// ort-native ÷ each (> 1: the C++ API is faster).
pub fn onnxruntime_bindings(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let valid: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.valid).collect();
    let peer = |native: &Entry<'_>, framework: &str| {
        valid.iter().copied().find(|e| {
            e.record.framework == framework && same_cell(native, e) && same_session_options(native.record, e.record)
        })
    };
    let mut table = Table::new(&[
        "scenario",
        "conc",
        "batch",
        "label",
        "ort-native emb/s",
        "ort emb/s",
        "python-ort emb/s",
        "ort-native ÷ ort",
        "ort-native ÷ python-ort",
        "ort-native p50 ms",
        "ort p50 ms",
        "python-ort p50 ms",
    ]);
    let mut rows = 0;
    for native in valid.iter().filter(|e| e.record.framework == "ort-native") {
        let (rust, python) = (peer(native, "ort"), peer(native, "python-ort"));
        if rust.is_none() && python.is_none() {
            continue;
        }
        let n = native.record;
        let emb = |e: Option<&Entry<'_>>| e.and_then(|e| e.record.embeddings_per_s);
        let p50 = |e: Option<&Entry<'_>>| e.map_or_else(|| "-".into(), |e| pct(e.record.latency_ms.as_ref(), "p50"));
        table.row(&[
            n.scenario.clone(),
            n.concurrency.to_string(),
            n.batch_size.to_string(),
            native.series(many_hosts),
            num(n.embeddings_per_s, 1),
            num(emb(rust), 1),
            num(emb(python), 1),
            ratio(n.embeddings_per_s, emb(rust)),
            ratio(n.embeddings_per_s, emb(python)),
            p50(Some(native)),
            p50(rust),
            p50(python),
        ]);
        rows += 1;
    }
    if rows == 0 {
        return;
    }
    let _ = writeln!(md, "### ONNX Runtime bindings\n");
    let _ = writeln!(
        md,
        "The same ONNX graph, library and session options (intra-op threads, and graph optimisation, execution mode, inter-op threads and sessions — python-ort's processes — where both records state them; a peer run otherwise is not paired and shows as -) through ONNX Runtime's C++ API (ort-native), Rust (ort, in-process) and Python (python-ort). ort-native ÷ X > 1: the C++ API is faster. ort-native and python-ort run in a worker process driven over the same pipe protocol, so their latency includes a pipe round trip that ort's does not (python-echo, where it ran, measures that protocol from the Python side).\n"
    );
    md.push_str(&table.finish());
    md.push('\n');
}
