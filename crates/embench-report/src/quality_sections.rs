//! Speed and quality: each cell that ran the retrieval-agreement check (reduced
//! precision, or fp32 under `quality.retrieval_check: all`), its throughput and
//! speed-up over the same framework's fp32 cell, beside the share of fp32's nearest
//! neighbours it kept. Cells below their recall bound are listed with their figures:
//! what a lossy variant buys is the point of the table.

use std::fmt::Write;

use embench_schema::{CellRecord, Precision};

use crate::fmt::num;
use crate::runs::Entry;
use crate::table::Table;

/// Settings that differ between a variant and its fp32 cell by construction (the file,
/// its precision), left out when matching the two.
const VARIANT_KEYS: [&str; 4] = ["variant", "model_file", "inference_precision", "quantization"];

/// The same framework's fp32 cell of the same host, scenario, concurrency, batch size
/// and threads: a valid one with the same other settings first, then a valid one,
/// then any; with a note when it is not the first kind (the table names the one used).
fn fp32_peer<'a>(cell: &Entry<'_>, entries: &'a [Entry<'a>]) -> Option<(&'a Entry<'a>, &'static str)> {
    let x = cell.record;
    fn settings(r: &CellRecord) -> Vec<(&String, &String)> {
        r.backend_settings.iter().filter(|(k, _)| !VARIANT_KEYS.contains(&k.as_str())).collect()
    }
    let peers: Vec<&Entry<'_>> = entries
        .iter()
        .filter(|e| {
            let y = e.record;
            e.host == cell.host
                && y.framework == x.framework
                && y.precision == Some(Precision::Fp32)
                && y.scenario == x.scenario
                && y.concurrency == x.concurrency
                && y.batch_size == x.batch_size
                && y.threads == x.threads
                && y.cache.is_none()
                && y.embeddings_per_s.is_some()
        })
        .collect();
    let same = |e: &&&Entry<'_>| settings(e.record) == settings(x);
    let peer = peers
        .iter()
        .find(|e| e.record.valid && same(e))
        .or_else(|| peers.iter().find(|e| e.record.valid))
        .or_else(|| peers.first())
        .copied()?;
    // A second-best peer says how it differs, beside the ratio.
    let note = match (peer.record.valid, settings(peer.record) == settings(x)) {
        (true, true) => "",
        (true, false) => "; other settings",
        (false, _) => "; fp32 cell invalid",
    };
    Some((peer, note))
}

fn label(host: &str, r: &CellRecord, many_hosts: bool) -> String {
    match many_hosts {
        true => format!("{} @ {host}", r.backend),
        false => r.backend.clone(),
    }
}

/// The "Speed and quality" table of a model and sequence length's cells.
pub fn quality_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let checked: Vec<&Entry<'_>> =
        entries.iter().filter(|e| e.record.retrieval.is_some() && e.record.cache.is_none()).collect();
    if checked.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Speed and quality\n");
    let _ = writeln!(
        md,
        "Each cell's vectors of the model's retrieval corpus against sentence-transformers' fp32 vectors: recall@10 is the share of fp32's 10 nearest neighbours a cell keeps (mean over the queries; the worst query in brackets), Spearman compares the whole ranking. Speed-up: this cell's embeddings/s over the same framework's fp32 cell (named) at the same batch size, concurrency and threads, in the same run (an invalid fp32 cell only when no valid one exists). A cell under its bound is invalid but listed with its figures.\n"
    );
    let mut table = Table::new(&[
        "backend",
        "precision",
        "batch",
        "emb/s",
        "speed-up over fp32",
        "recall@10 (worst)",
        "Spearman",
        "cosine min / mean",
        "bound",
        "peak RSS MB",
    ]);
    for e in checked {
        let r = e.record;
        let q = r.retrieval.as_ref().expect("filtered");
        let speedup = match (fp32_peer(e, entries), r.embeddings_per_s) {
            (Some((p, note)), Some(now)) => {
                let base = p.record.embeddings_per_s.unwrap_or(f64::NAN);
                format!("{:.2}× (over {}{note})", now / base, p.record.backend)
            }
            _ => "- (no fp32 cell)".into(),
        };
        let kept = if q.recall_at_10 >= q.threshold { "met" } else { "**below**" };
        table.row(&[
            label(e.host, r, many_hosts),
            r.precision.map_or_else(|| "unknown".into(), |p| p.to_string()),
            r.batch_size.to_string(),
            num(r.embeddings_per_s, 1),
            speedup,
            format!("{:.3} ({:.1})", q.recall_at_10, q.recall_at_10_min),
            format!("{:.4}", q.spearman),
            format!("{:.4} / {:.4}", q.cosine_min, q.cosine_mean),
            format!("{} {kept}", q.threshold),
            num(r.peak_rss_mb, 0),
        ]);
    }
    let _ = writeln!(md, "{}", table.finish());
}
