//! The report's sections for batch-size sweeps and the embedding cache.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::fmt::{num, pct};
use crate::runs::Entry;
use crate::table::Table;

/// Share of the best throughput a smaller batch must reach to be the latency-friendly choice.
pub const NEAR_OPTIMUM: f64 = 0.95;

/// The batch size with the highest throughput, and the smallest one within 5 % of it.
///
/// `points` are (batch size, embeddings/s); ties go to the smaller batch.
pub fn sweep_markers(points: &[(usize, f64)]) -> Option<(usize, usize)> {
    let mut sorted: Vec<(usize, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    sorted.sort_by_key(|p| p.0);
    let best = sorted.iter().copied().reduce(|a, b| if b.1 > a.1 { b } else { a })?;
    let friendly = sorted.iter().find(|p| p.1 >= NEAR_OPTIMUM * best.1).map_or(best.0, |p| p.0);
    Some((best.0, friendly))
}

/// Valid sweep records grouped by series (backend, or backend @ host), each sorted by batch size.
pub fn sweep_series<'a>(entries: &[Entry<'a>], many_hosts: bool) -> BTreeMap<String, Vec<Entry<'a>>> {
    let mut by: BTreeMap<String, Vec<Entry<'a>>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.record.scenario_kind == embench_schema::ScenarioKind::BatchSweep) {
        by.entry(format!("{} / {}", e.series(many_hosts), e.record.scenario)).or_default().push(*e);
    }
    for v in by.values_mut() {
        v.sort_by_key(|e| e.record.batch_size);
    }
    by
}

/// The batch-sweep table: per series and batch size, throughput and per-batch latency, with the markers.
pub fn sweep_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let series = sweep_series(entries, many_hosts);
    if series.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Batch-size sweep\n");
    let _ = writeln!(
        md,
        "**best** = highest embeddings/s; **latency pick** = the smallest batch within {:.0} % of it.\n",
        (1.0 - NEAR_OPTIMUM) * 100.0
    );
    let _ = writeln!(
        md,
        "Peak RSS is the process's while the size was measured; cells share one process, so it also holds what earlier cells left in the allocator.\n"
    );
    let mut table = Table::new(&[
        "backend / scenario",
        "batch",
        "emb/s",
        "p50 ms per batch",
        "p99 ms per batch",
        "peak RSS MiB",
        "memory estimate MiB",
        "mark",
    ]);
    for (name, points) in &series {
        let measured: Vec<(usize, f64)> = points
            .iter()
            .filter(|e| e.record.valid)
            .filter_map(|e| e.record.embeddings_per_s.map(|v| (e.record.batch_size, v)))
            .collect();
        let markers = sweep_markers(&measured);
        for e in points {
            let r = e.record;
            let mark = match markers {
                Some((best, friendly)) if r.valid && r.batch_size == best && best == friendly => {
                    "**best**, latency pick"
                }
                Some((best, _)) if r.valid && r.batch_size == best => "**best**",
                Some((_, friendly)) if r.valid && r.batch_size == friendly => "latency pick",
                _ => "",
            };
            if let Some(why) = &r.skipped {
                let skipped = format!("skipped: {}", why.replace('|', "\\|"));
                let estimate = num(r.memory_estimate_mb, 0);
                table.row(&[
                    name.as_str(),
                    r.batch_size.to_string().as_str(),
                    skipped.as_str(),
                    "",
                    "",
                    "",
                    estimate.as_str(),
                    "",
                ]);
                continue;
            }
            if !r.valid {
                let why = r.invalid_reason.as_deref().unwrap_or("invalid").replace('|', "\\|");
                let invalid = format!("**INVALID**: {why}");
                let estimate = num(r.memory_estimate_mb, 0);
                table.row(&[
                    name.as_str(),
                    r.batch_size.to_string().as_str(),
                    invalid.as_str(),
                    "",
                    "",
                    "",
                    estimate.as_str(),
                    "",
                ]);
                continue;
            }
            let l = r.latency_ms.clone();
            table.row(&[
                name.clone(),
                r.batch_size.to_string(),
                num(r.embeddings_per_s, 1),
                pct(l.as_ref(), "p50"),
                pct(l.as_ref(), "p99"),
                num(r.peak_rss_mb, 0),
                num(r.memory_estimate_mb, 0),
                mark.to_string(),
            ]);
        }
    }
    md.push_str(&table.finish());
    md.push('\n');
}

/// The cache table: per backend and repeat ratio, the four phases side by side.
pub fn cache_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let cached: Vec<&Entry<'_>> = entries.iter().filter(|e| e.record.cache.is_some()).collect();
    if cached.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Embedding cache\n");
    let _ = writeln!(
        md,
        "Phases: **off** = no cache (baseline); **cold** = empty cache, hits only from repeats within the requests; **hot** = the cold requests replayed; **warm** = new requests from the same distribution, cache kept. Speedup = embeddings/s over the baseline's.\n"
    );
    let mut table = Table::new(&[
        "backend",
        "batch",
        "repeats",
        "distribution",
        "phase",
        "hit rate",
        "emb/s",
        "p50 ms",
        "p99 ms",
        "speedup",
        "cache MiB",
        "entries",
        "evictions",
    ]);
    for e in cached {
        let (r, c) = (e.record, e.record.cache.as_ref().expect("filtered"));
        let head = [
            e.series(many_hosts),
            r.batch_size.to_string(),
            format!("{:.0} %", c.repeat_ratio * 100.0),
            c.distribution.clone(),
            c.phase.clone(),
        ];
        if !r.valid {
            let why = r.invalid_reason.as_deref().unwrap_or("invalid").replace('|', "\\|");
            let rest = [format!("**INVALID**: {why}")].into_iter().chain(std::iter::repeat_n(String::new(), 7));
            table.row(&head.into_iter().chain(rest).collect::<Vec<_>>());
            continue;
        }
        let l = r.latency_ms.clone();
        let figures = [
            format!("{:.1} %", c.hit_rate * 100.0),
            num(r.embeddings_per_s, 1),
            pct(l.as_ref(), "p50"),
            pct(l.as_ref(), "p99"),
            c.speedup.map_or("-".into(), |s| if s >= 100.0 { format!("{s:.0}x") } else { format!("{s:.2}x") }),
            if c.phase == "off" { "-".into() } else { format!("{:.2}", c.cache_mb) },
            c.entries.to_string(),
            c.evictions.to_string(),
        ];
        table.row(&head.into_iter().chain(figures).collect::<Vec<_>>());
    }
    md.push_str(&table.finish());
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_pick_the_best_and_the_smallest_batch_near_it() {
        type Case<'a> = (&'a [(usize, f64)], Option<(usize, usize)>);
        let table: [Case; 5] = [
            (&[(1, 10.0), (8, 40.0), (32, 50.0), (64, 49.0)], Some((32, 32))),
            (&[(1, 10.0), (8, 48.0), (32, 50.0), (64, 49.0)], Some((32, 8))),
            (&[(64, 30.0), (1, 10.0), (16, 30.0)], Some((16, 16))),
            (&[(4, 7.0)], Some((4, 4))),
            (&[], None),
        ];
        for (points, want) in table {
            assert_eq!(sweep_markers(points), want, "{points:?}");
        }
    }
}
