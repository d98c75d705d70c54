//! The table printed at the end of a run: compact by default (at most
//! [`COMPACT_WIDTH`] columns, as hyperfine and oha print a short summary and leave
//! the full data to exports), every column with `--wide`. report.md and cells.csv
//! keep every figure.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, Table};
use embench_report::fmt::{ms, num, pct};
use embench_report::markdown::first_line;
use embench_runner::CellRecord;

/// Widest line of the compact table, in terminal columns.
pub const COMPACT_WIDTH: usize = 120;

/// Columns the compact table keeps for the verdict (`yes (warnings)`, `INVALID [12]`).
const MIN_VERDICT: usize = 14;

/// The compact table's columns: what a reader compares first.
const COMPACT: [&str; 11] =
    ["model", "backend", "scenario", "c", "batch", "seq", "emb/s", "p50 ms", "p99 ms", "RSS MB", "valid"];

/// The wide table's columns.
fn wide_columns() -> Vec<&'static str> {
    let head = ["model", "backend", "scenario", "conc", "batch", "seq"];
    let tail = ["peak RSS MB", "CPU %", "threads", "precision", "min cos", "valid"];
    [&head[..], &embench_report::markdown::FIGURE_COLUMNS, &tail].concat()
}

/// One row per cell, the verdict last. An invalid or skipped cell shows no figures
/// and `INVALID [k]`; note k under the table gives the first line of its reason
/// (the whole text is in results.jsonl). Compact: no line passes [`COMPACT_WIDTH`].
pub fn table(records: &[CellRecord], wide: bool) -> String {
    let mut header: Vec<&str> = if wide { wide_columns() } else { COMPACT.to_vec() };
    let mut reasons = Vec::new();
    let mut rows: Vec<(Vec<String>, String, Color)> = records
        .iter()
        .map(|r| {
            let (cells, verdict, color, reason) = row(r, wide);
            match reason {
                Some(why) => {
                    reasons.push(format!(
                        "[{}] {} / {} / {}: {why}",
                        reasons.len() + 1,
                        r.model,
                        r.backend,
                        r.scenario_label()
                    ));
                    (cells, format!("{verdict} [{}]", reasons.len()), color)
                }
                None => (cells, verdict, color),
            }
        })
        .collect();
    // Compact: one model for every cell goes above the table instead of in every row.
    let one_model = records.first().map(|r| &r.model).filter(|m| !wide && records.iter().all(|r| &r.model == *m));
    if one_model.is_some() {
        header.remove(0);
        rows.iter_mut().for_each(|(cells, ..)| drop(cells.remove(0)));
    }
    // Column widths without the verdict; the verdict gets what is left of the line.
    let mut widths: Vec<usize> = (0..header.len() - 1)
        .map(|c| {
            rows.iter()
                .map(|(cells, ..)| cells[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // UTF8_FULL_CONDENSED: a border, then " content │" (3 more) per column.
    let line = |widths: &[usize], verdict: usize| 1 + widths.iter().map(|w| w + 3).sum::<usize>() + verdict + 3;
    if !wide {
        // Long names give way first (scenario, model, backend), down to a readable minimum.
        for (name, floor) in [("scenario", 14), ("model", 12), ("backend", 10)] {
            let Some(c) = header.iter().position(|h| *h == name) else { continue };
            let over = line(&widths, MIN_VERDICT).saturating_sub(COMPACT_WIDTH);
            widths[c] -= over.min(widths[c].saturating_sub(floor));
        }
    }
    let room = COMPACT_WIDTH.saturating_sub(line(&widths, 0)).max(MIN_VERDICT);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header);
    for (cells, verdict, color) in rows {
        let cells = cells.iter().zip(&widths).map(|(c, &w)| if wide { c.clone() } else { cut(c, w) });
        let verdict = if wide { verdict } else { cut(&verdict, room) };
        t.add_row(cells.map(Cell::new).chain([Cell::new(verdict).fg(color)]));
    }
    let mut out = one_model.map(|m| format!("model {m}\n")).unwrap_or_default();
    out.push_str(&t.to_string());
    for note in reasons.into_iter().chain(notes(records, wide)) {
        out.push('\n');
        out.push_str(&if wide { note } else { cut(&note, COMPACT_WIDTH) });
    }
    out
}

/// A record's cells (all but the verdict), its verdict, the verdict's colour and,
/// for a cell without figures, the first line of why.
fn row(r: &CellRecord, wide: bool) -> (Vec<String>, String, Color, Option<String>) {
    let lat = r.latency_ms.as_ref();
    let scenario = match (&r.cache, wide) {
        // `cache 20% cold` for `cache [repeats 20 %, cache cold]`.
        (Some(c), false) => format!("{} {:.0}% {}", r.scenario, c.repeat_ratio * 100.0, c.phase),
        _ => r.scenario_label(),
    };
    let mut cells = vec![
        r.model.clone(),
        r.backend.clone(),
        scenario,
        r.concurrency.to_string(),
        r.batch_size.to_string(),
        r.seq_len.to_string().trim_matches('"').to_string(),
    ];
    let figures: Vec<String> = if wide {
        vec![
            num(r.qps, 1),
            num(r.embeddings_per_s, 1),
            ms(lat.map(|l| l.mean)),
            pct(lat, "p50"),
            pct(lat, "p95"),
            pct(lat, "p99"),
            pct(lat, "p99.9"),
            num(r.load_time_s, 3),
            ms(r.first_request_ms),
            num(r.peak_rss_mb, 0),
            num(r.cpu_util_pct, 0),
            r.threads.map_or("-".into(), |t| t.to_string()),
            r.precision_label(),
            num(r.min_cosine, 5),
        ]
    } else {
        vec![num(r.embeddings_per_s, 1), pct(lat, "p50"), pct(lat, "p99"), num(r.peak_rss_mb, 0)]
    };
    let n = figures.len();
    if r.valid {
        cells.extend(figures);
        let verdict = match (r.steady_state.as_ref().is_some_and(|s| s.unstable), r.warnings.is_empty()) {
            (true, _) => "yes (UNSTABLE)",
            (false, true) => "yes",
            (false, false) => "yes (warnings)",
        };
        (cells, verdict.into(), Color::Green, None)
    } else {
        cells.extend(std::iter::repeat_n("-".to_string(), n));
        match &r.skipped {
            Some(why) => (cells, "SKIPPED".into(), Color::Yellow, Some(first_line(why))),
            None => {
                let why = first_line(r.invalid_reason.as_deref().unwrap_or("no reason recorded"));
                (cells, "INVALID".into(), Color::Red, Some(why))
            }
        }
    }
}

/// Lines under the table: the latency-bounded throughput answers, and what '—' means.
fn notes(records: &[CellRecord], wide: bool) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let s = r.slo.as_ref()?;
            let answer = s.max_qps.map_or("none met it".into(), |q| format!("{q:.1} requests/s"));
            Some(format!(
                "{} / {} / {}: highest rate with p{} <= {} ms: {answer}",
                r.model, r.backend, r.scenario, s.percentile, s.bound_ms
            ))
        })
        .collect();
    let shown: &[&str] = if wide { &["p50", "p95", "p99", "p99.9"] } else { &["p50", "p99"] };
    let thin = |r: &CellRecord| r.latency_ms.as_ref().is_some_and(|l| shown.iter().any(|p| l.supported(p).is_none()));
    if records.iter().any(|r| r.valid && thin(r)) {
        out.push("— : too few requests for that percentile (10 above it: p99 needs 1000, p99.9 10 000); values in results.jsonl".into());
    }
    out
}

/// `text` cut to `room` characters, ending in `…` when it was longer.
fn cut(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut s: String = text.chars().take(room.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(valid: bool, reason: &str) -> CellRecord {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../embench-report/tests/fixtures/runs/host-a/results.jsonl");
        let line = std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string();
        let mut r: CellRecord = serde_json::from_str(&line).unwrap();
        r.valid = valid;
        r.invalid_reason = (!valid).then(|| reason.to_string());
        r.scenario = "a_fairly_long_scenario_name_that_goes_on".into();
        r
    }

    fn widest(table: &str) -> usize {
        table.lines().map(|l| l.chars().count()).max().unwrap_or(0)
    }

    #[test]
    fn the_default_table_fits_120_columns_and_wide_shows_every_column() {
        let backtrace = format!("candle failed during warm-up: index out of bounds\n{}", "   0: frame\n".repeat(25));
        let records = [record(true, ""), record(false, &backtrace), record(false, &"x".repeat(400))];
        let compact = table(&records, false);
        assert!(widest(&compact) <= COMPACT_WIDTH, "{} columns:\n{compact}", widest(&compact));
        assert!(compact.starts_with("model all-minilm-l6-v2\n"), "one model goes above the table:\n{compact}");
        assert!(compact.contains("INVALID [1]") && compact.contains("INVALID [2]"), "{compact}");
        let note = compact.lines().find(|l| l.starts_with("[1] ")).unwrap();
        assert!(note.contains(": candle failed during warm-up: index out of"), "{note}");
        assert!(!compact.contains("0: frame"), "only the first line of an error:\n{compact}");
        let rows = compact.lines().filter(|l| l.contains("a_fairly_long_s")).count();
        assert_eq!(rows, 3 + 2, "one line per cell and per failure:\n{compact}");
        let wide = table(&records, true);
        for column in wide_columns() {
            assert!(wide.contains(column), "{column} missing from the wide table");
        }
        assert!(widest(&wide) > COMPACT_WIDTH);
        assert_eq!(wide.lines().filter(|l| l.contains("a_fairly_long_scenario_name")).count(), 3 + 2, "{wide}");
    }
}
