//! `report.md`: machines, versions, config, a summary of winners, a table per
//! model × sequence length, and the charts.

use std::fmt::Write;

use embench_schema::CellRecord;

use crate::charts::ChartFile;
use crate::fmt::{ms, num, pct, THIN_NOTE};
use crate::runs::{Entry, Runs};
use crate::table::Table;

/// The report as markdown; `charts` are the files already written under `charts/`.
pub fn report(runs: &Runs, charts: &[ChartFile]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# embench report\n");
    let hosts: Vec<&str> = runs.runs.iter().map(|r| r.host.as_str()).collect();
    let _ = writeln!(md, "{} run(s) on {}.\n", runs.runs.len(), hosts.join(", "));
    machines(&mut md, runs);
    versions(&mut md, runs);
    configs(&mut md, runs);
    summary(&mut md, runs);
    for ((model, seq), entries) in runs.groups() {
        match crate::image_sections::is_image(&seq) {
            true => writeln!(md, "## {model}, image tower ({})\n", seq.trim_start_matches("image").trim()),
            false => writeln!(md, "## {model}, sequence length {seq}\n"),
        }
        .expect("writing to a String");
        // A model not fetched, or a length over its maximum: one line, not a table of dashes.
        if entries.iter().all(|e| e.record.skipped.is_some()) {
            let mut reasons: Vec<&str> = Vec::new();
            for why in entries.iter().filter_map(|e| e.record.skipped.as_deref()) {
                if !reasons.contains(&why) {
                    reasons.push(why);
                }
            }
            let _ = writeln!(md, "All {} cells SKIPPED, not measured: {}\n", entries.len(), reasons.join("; "));
            continue;
        }
        let (cached, plain): (Vec<Entry<'_>>, Vec<Entry<'_>>) = entries.iter().partition(|e| e.record.cache.is_some());
        cell_table(&mut md, &plain, runs.many_hosts());
        crate::sections::sweep_table(&mut md, &plain, runs.many_hosts());
        crate::sections::cache_table(&mut md, &cached, runs.many_hosts());
        crate::load_sections::serving_table(&mut md, &plain, runs.many_hosts());
        crate::load_sections::slo_table(&mut md, &plain, runs.many_hosts());
        crate::load_sections::trust_table(&mut md, &plain, runs.many_hosts());
        crate::quality_sections::quality_table(&mut md, &plain, runs.many_hosts());
        crate::python_sections::rust_vs_python(&mut md, &plain, runs.many_hosts());
        crate::bindings_sections::onnxruntime_bindings(&mut md, &plain, runs.many_hosts());
        crate::image_sections::image_table(&mut md, &plain, runs.many_hosts());
        crate::http_sections::http_table(&mut md, &plain, runs.many_hosts());
        for c in charts.iter().filter(|c| c.model == model && c.seq == seq) {
            let _ = writeln!(md, "![{}](charts/{}.png)\n", c.title, c.stem);
        }
    }
    methodology(&mut md, runs);
    md
}

fn machines(md: &mut String, runs: &Runs) {
    let _ = writeln!(md, "## Machines\n");
    let mut table = Table::new(&[
        "host",
        "CPU",
        "arch",
        "cores (physical / logical)",
        "ISA flags",
        "RAM",
        "OS",
        "kernel",
        "run started",
    ]);
    for r in &runs.runs {
        let h = &r.manifest.host;
        let phys = h.physical_cores.map_or("?".to_string(), |c| c.to_string());
        table.row(&[
            r.host.clone(),
            h.cpu_model.clone(),
            h.arch.clone(),
            format!("{phys} / {}", h.logical_cpus),
            if h.isa_flags.is_empty() { "-".into() } else { h.isa_flags.join(" ") },
            format!("{:.1} GiB", h.ram_total_mb as f64 / 1024.0),
            h.os.clone(),
            h.kernel.clone(),
            r.manifest.started_at.clone(),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}

fn versions(md: &mut String, runs: &Runs) {
    let _ = writeln!(md, "## Versions\n");
    let mut table = Table::new(&["host", "embench", "commit", "backends (library versions)"]);
    for r in &runs.runs {
        // The backends the run used, each once, its version without its name again.
        // A config without `backends` ran every framework: the records say which.
        let used: Vec<&str> = match r.manifest.config["backends"].as_array() {
            Some(b) => b.iter().filter_map(|b| b["name"].as_str()).collect(),
            None => r.records.iter().map(|c| c.framework.as_str()).collect(),
        };
        let backends: Vec<String> = r
            .manifest
            .backends
            .iter()
            .filter(|b| b.compiled && used.contains(&b.backend.as_str()))
            .map(|b| {
                let version = b.version.as_deref().unwrap_or("?");
                let version = version.strip_prefix(b.backend.as_str()).map_or(version, str::trim_start);
                // A library path shows as its file name, which carries the version.
                let version: Vec<&str> = version
                    .split(' ')
                    .map(|w| if w.contains('/') { w.rsplit('/').next().unwrap_or(w) } else { w })
                    .collect();
                format!("{} {}", b.backend, version.join(" "))
            })
            .collect();
        table.row(&[
            r.host.clone(),
            r.manifest.embench_version.clone(),
            r.manifest.git_commit.clone(),
            backends.join(", "),
        ]);
    }
    md.push_str(&table.finish());
    md.push('\n');
}

fn configs(md: &mut String, runs: &Runs) {
    let _ = writeln!(md, "## Configuration\n");
    for r in &runs.runs {
        let c = &r.manifest.config;
        let seqs = c["input_config"]["sequence_lengths"]
            .as_array()
            .map(|a| a.iter().map(crate::runs::seq_label).collect::<Vec<_>>().join(", "));
        let _ = writeln!(
            md,
            "- **{}**: `{}`; sequence lengths {}; {} warm-up requests per cell.",
            r.host,
            r.manifest.config_path,
            seqs.unwrap_or_else(|| "?".into()),
            c["input_config"]["warmup_requests"]
        );
        if let Some(backends) = c["backends"].as_array() {
            let list: Vec<String> = backends
                .iter()
                .map(|b| {
                    let threads = b["threads"].as_u64().map_or("default threads".into(), |t| format!("{t} threads"));
                    format!("{} ({threads})", b["name"].as_str().unwrap_or("?"))
                })
                .collect();
            let _ = writeln!(md, "  - backends: {}", list.join(", "));
        } else {
            let _ = writeln!(md, "  - backends: not listed, so every framework embench has (default settings)");
        }
        if let Some(scenarios) = c["test_scenarios"].as_array() {
            for s in scenarios {
                let amount = match (s["num_requests"].as_u64(), s["num_texts"].as_u64()) {
                    (_, Some(t)) => format!("{t} texts per batch size"),
                    (Some(n), _) => format!("{n} requests"),
                    _ => "? requests".into(),
                };
                let cache =
                    if s["cache"].is_object() { format!(", embedding cache {}", s["cache"]) } else { String::new() };
                let _ = writeln!(
                    md,
                    "  - scenario `{}`: concurrency {}, {amount}, batch {}{cache}",
                    s["name"].as_str().unwrap_or("?"),
                    s["concurrency"],
                    s["batch_size"]
                );
            }
        }
    }
    md.push('\n');
}

/// A question and how to pick its best cell: lower or higher is better.
struct Question {
    text: &'static str,
    value: fn(&CellRecord) -> Option<f64>,
    filter: fn(&CellRecord) -> bool,
    lower_is_better: bool,
    unit: &'static str,
}

const QUESTIONS: [Question; 4] = [
    Question {
        text: "Lowest latency at concurrency 1 (p50, batch 1)",
        value: |r| r.latency_ms.as_ref().map(|l| l.p50),
        filter: |r| r.concurrency == 1 && r.batch_size == 1 && r.mode == embench_schema::LoadMode::ClosedLoop,
        lower_is_better: true,
        unit: "ms",
    },
    Question {
        text: "Highest throughput",
        value: |r| r.embeddings_per_s,
        filter: |_| true,
        lower_is_better: false,
        unit: "embeddings/s",
    },
    Question {
        text: "Smallest memory (peak RSS)",
        value: |r| r.peak_rss_mb,
        filter: |_| true,
        lower_is_better: true,
        unit: "MiB",
    },
    Question {
        text: "Fastest model load",
        value: |r| r.load_time_s,
        filter: |_| true,
        lower_is_better: true,
        unit: "s",
    },
];

fn summary(md: &mut String, runs: &Runs) {
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(md, "Only valid cells of real frameworks compete (the mock backend is a harness check).\n");
    let mut table = Table::new(&["model", "seq", "question", "best", "value", "cell"]);
    let mut skipped = Vec::new();
    for ((model, seq), entries) in runs.groups() {
        if entries.iter().all(|e| e.record.skipped.is_some()) {
            skipped.push(format!("{model} at {seq}"));
            continue;
        }
        for q in &QUESTIONS {
            let best = entries
                .iter()
                // Cache phases serve repeats from memory: their throughput is not the backend's.
                .filter(|e| e.record.valid && e.record.cache.is_none() && e.record.backend != "mock")
                .filter(|e| (q.filter)(e.record))
                .filter_map(|e| (q.value)(e.record).map(|v| (v, e)))
                .min_by(|a, b| {
                    let ord = a.0.total_cmp(&b.0);
                    if q.lower_is_better {
                        ord
                    } else {
                        ord.reverse()
                    }
                });
            // An image tower's throughput is images/s.
            let unit =
                if crate::image_sections::is_image(&seq) && q.unit == "embeddings/s" { "images/s" } else { q.unit };
            let (best, value, cell) = match best {
                Some((v, e)) => (e.series(runs.many_hosts()), format!("{} {unit}", sig(v)), describe(e.record)),
                None => ("-".into(), "no valid cell".into(), "-".into()),
            };
            table.row(&[model.to_string(), seq.to_string(), q.text.to_string(), best, value, cell]);
        }
    }
    md.push_str(&table.finish());
    md.push('\n');
    if !skipped.is_empty() {
        let _ = writeln!(md, "Not measured (every cell SKIPPED; why in its section): {}.\n", skipped.join(", "));
    }
}

fn describe(r: &CellRecord) -> String {
    format!("{} (c={}, b={})", r.scenario_label(), r.concurrency, r.batch_size)
}

fn sig(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        ms(Some(v))
    }
}

/// The figures of a cell in every table of cells (the report's, the terminal summary's), in order.
pub const FIGURE_COLUMNS: [&str; 9] =
    ["QPS", "emb/s", "mean ms", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "load s", "first ms"];

fn cell_table(md: &mut String, entries: &[Entry<'_>], many_hosts: bool) {
    let head = ["backend", "scenario", "conc", "batch"];
    let tail = ["peak RSS MiB", "CPU %", "precision", "threads", "min cos", "valid"];
    let mut table = Table::new(&[&head[..], &FIGURE_COLUMNS, &tail].concat());
    for e in entries {
        let r = e.record;
        let scenario = match (r.mode.as_str(), r.requested_rate_qps) {
            ("closed_loop", _) => r.scenario.clone(),
            (mode, Some(rate)) => format!("{} ({mode}, {rate} req/s asked)", r.scenario),
            (mode, None) => format!("{} ({mode})", r.scenario),
        };
        let head = [e.series(many_hosts), scenario, r.concurrency.to_string(), r.batch_size.to_string()];
        let threads = r.threads.map_or("-".into(), |t| t.to_string());
        if !r.valid {
            let verdict = match &r.skipped {
                Some(why) => format!("SKIPPED: {}", first_line(why).replace('|', "\\|")),
                None => {
                    let reason = first_line(r.invalid_reason.as_deref().unwrap_or("no reason recorded"));
                    format!("**INVALID**: {}", reason.replace('|', "\\|"))
                }
            };
            let figures = std::iter::repeat_n("-".to_string(), 11);
            let tail = [r.precision_label(), threads, num(r.min_cosine, 5), verdict];
            table.row(&head.into_iter().chain(figures).chain(tail).collect::<Vec<_>>());
            continue;
        }
        let l = r.latency_ms.clone();
        let figures = [
            num(r.qps, 1),
            num(r.embeddings_per_s, 1),
            ms(l.as_ref().map(|l| l.mean)),
            pct(l.as_ref(), "p50"),
            pct(l.as_ref(), "p95"),
            pct(l.as_ref(), "p99"),
            pct(l.as_ref(), "p99.9"),
            num(r.load_time_s, 3),
            ms(r.first_request_ms),
            num(r.peak_rss_mb, 0),
            num(r.cpu_util_pct, 0),
            r.precision_label(),
            threads,
            num(r.min_cosine, 5),
            format!("yes{}", r.warnings.iter().map(|w| format!(" (warning: {w})")).collect::<String>()),
        ];
        table.row(&head.into_iter().chain(figures).collect::<Vec<_>>());
    }
    md.push_str(&table.finish());
    if entries
        .iter()
        .any(|e| e.record.valid && e.record.latency_ms.as_ref().is_some_and(|l| !l.below_sample_floor.is_empty()))
    {
        let _ = writeln!(md, "\n{THIN_NOTE}");
    }
    md.push('\n');
}

/// The first line of a message, marked when more follows (the whole text is in results.jsonl).
pub fn first_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim_end().to_string();
    if lines.any(|l| !l.trim().is_empty()) {
        format!("{first} […]")
    } else {
        first
    }
}

fn methodology(md: &mut String, runs: &Runs) {
    let _ = writeln!(md, "## Methodology\n");
    if let Some(r) = runs.runs.first() {
        for line in &r.manifest.methodology {
            let _ = writeln!(md, "- {line}");
        }
    }
}
