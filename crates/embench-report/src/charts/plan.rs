//! Which charts a set of runs gets, and their data.

use std::collections::BTreeMap;
use std::path::Path;

/// Values keyed by the bit pattern of their x (f64 is not Ord).
type PointsByX = BTreeMap<u64, Vec<f64>>;

use embench_schema::histogram::{requests_needed, LatencyHistogram};

use super::scatter::{Point, ScatterChart};
use super::{backend_color, save, Axis, BarChart, ChartFile, LineChart, Mark, Series};
use crate::runs::{Entry, ReportError, Runs};
use crate::sections::{sweep_markers, sweep_series};

/// Quantiles of the latency-distribution curve.
const QUANTILES: [f64; 10] = [0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999];

/// Renders every chart the data supports into `dir` (PNG and SVG) and lists them.
pub fn render_all(runs: &Runs, dir: &Path) -> Result<Vec<ChartFile>, ReportError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| ReportError::Output { path: dir.display().to_string(), message: e.to_string() })?;
    let hosts: Vec<&str> = runs.runs.iter().map(|r| r.host.as_str()).collect();
    let many = runs.many_hosts();
    let mut files = Vec::new();
    for ((model, seq), entries) in runs.groups() {
        // Cache phases serve repeats from memory: they get a table, not the backends' curves.
        let valid: Vec<Entry<'_>> =
            entries.iter().copied().filter(|e| e.record.valid && e.record.cache.is_none()).collect();
        let ctx = Ctx { model: &model, seq: &seq, dir, hosts: &hosts, many };
        let by_conc: Vec<Entry<'_>> = valid
            .iter()
            .copied()
            .filter(|e| e.record.batch_size == 1 && e.record.mode == embench_schema::LoadMode::ClosedLoop)
            .collect();
        let latency = ctx.lines(
            &by_conc,
            |e| e.record.concurrency as f64,
            &[
                ("p50", |e| e.record.latency_ms.as_ref().and_then(|l| l.supported("p50"))),
                ("p99", |e| e.record.latency_ms.as_ref().and_then(|l| l.supported("p99"))),
            ],
        );
        ctx.emit_line(
            &mut files,
            "latency_vs_concurrency",
            "p50 (solid) and p99 (dashed, cells of 1000+ requests) latency vs concurrency",
            "concurrency (clients, log scale)",
            "latency (ms)",
            Axis::Log10,
            latency,
        )?;
        let qps = ctx.lines(&by_conc, |e| e.record.concurrency as f64, &[("", |e| e.record.qps)]);
        ctx.emit_line(
            &mut files,
            "qps_vs_concurrency",
            "throughput vs concurrency (batch 1)",
            "concurrency (clients, log scale)",
            "requests per second",
            Axis::Log10,
            qps,
        )?;
        // Batch curves: from sweeps when there are any, else from every concurrency-1 closed-loop cell.
        let sweeps: Vec<Entry<'_>> = valid
            .iter()
            .copied()
            .filter(|e| e.record.scenario_kind == embench_schema::ScenarioKind::BatchSweep)
            .collect();
        let sweeps_only = !sweeps.is_empty();
        let by_batch: Vec<Entry<'_>> = if sweeps.is_empty() {
            valid
                .iter()
                .copied()
                .filter(|e| e.record.concurrency == 1 && e.record.mode == embench_schema::LoadMode::ClosedLoop)
                .collect()
        } else {
            sweeps
        };
        let (tput_marks, lat_marks) = sweep_marks(&by_batch, many);
        let source = if sweeps_only { "batch-size sweeps" } else { "concurrency 1" };
        let charts = [
            (
                "throughput_vs_batch",
                format!("throughput vs batch size ({source})"),
                if crate::image_sections::is_image(ctx.seq) { "images per second" } else { "embeddings per second" },
                ctx.lines(&by_batch, |e| e.record.batch_size as f64, &[("", |e| e.record.embeddings_per_s)]),
                tput_marks,
            ),
            (
                "latency_vs_batch",
                format!("p50 latency of one request (a whole batch) vs batch size ({source})"),
                "latency per request of one batch (ms)",
                ctx.lines(
                    &by_batch,
                    |e| e.record.batch_size as f64,
                    &[("p50", |e| e.record.latency_ms.as_ref().map(|l| l.p50))],
                ),
                lat_marks,
            ),
        ];
        for (kind, what, y_desc, series, marks) in charts {
            let (x_desc, y_desc) = ("batch size (log scale)".into(), y_desc.into());
            let chart = LineChart { title: ctx.title(&what), x_desc, y_desc, x_axis: Axis::Log10, series, marks };
            ctx.emit_chart(&mut files, kind, chart)?;
        }
        ctx.bars(
            &mut files,
            &valid,
            "load_time",
            "model load time (mean over the cells)",
            "load time (s)",
            |v| v.iter().sum::<f64>() / v.len() as f64,
            |e| e.record.load_time_s,
        )?;
        ctx.bars(
            &mut files,
            &valid,
            "peak_rss",
            "peak RSS during measurement (highest cell)",
            "peak RSS (MiB)",
            |v| v.iter().copied().fold(0.0, f64::max),
            |e| e.record.peak_rss_mb,
        )?;
        ctx.distribution(&mut files, &valid)?;
        // Invalid cells too: a variant under its recall bound is what the chart weighs.
        ctx.speed_vs_quality(&mut files, &entries)?;
    }
    Ok(files)
}

type Value = fn(&Entry<'_>) -> Option<f64>;

/// Ring and square marks of each sweep series, on the throughput and on the latency curve.
fn sweep_marks(entries: &[Entry<'_>], many: bool) -> (Vec<Mark>, Vec<Mark>) {
    let (mut tput, mut lat) = (Vec::new(), Vec::new());
    for points in sweep_series(entries, many).values() {
        let measured: Vec<(usize, f64)> =
            points.iter().filter_map(|e| e.record.embeddings_per_s.map(|v| (e.record.batch_size, v))).collect();
        let Some((best, friendly)) = sweep_markers(&measured) else { continue };
        for e in points {
            let r = e.record;
            for (batch, is_best) in [(best, true), (friendly, false)] {
                if r.batch_size != batch || (!is_best && best == friendly) {
                    continue;
                }
                let x = (batch as f64).log10();
                let color = backend_color(&r.backend);
                if let Some(y) = r.embeddings_per_s {
                    tput.push(Mark { at: (x, y), color, best: is_best });
                }
                if let Some(l) = &r.latency_ms {
                    lat.push(Mark { at: (x, l.p50), color, best: is_best });
                }
            }
        }
    }
    (tput, lat)
}

pub(crate) struct Ctx<'a> {
    model: &'a str,
    seq: &'a str,
    dir: &'a Path,
    hosts: &'a [&'a str],
    many: bool,
}

impl Ctx<'_> {
    fn marker(&self, e: &Entry<'_>) -> usize {
        self.hosts.iter().position(|h| *h == e.host).unwrap_or(0)
    }

    fn title(&self, what: &str) -> String {
        match crate::image_sections::is_image(self.seq) {
            true => format!("{}, image tower ({}): {what}", self.model, self.seq.trim_start_matches("image").trim()),
            false => format!("{}, seq {}: {what}", self.model, self.seq),
        }
    }

    fn stem(&self, kind: &str) -> String {
        let safe = |s: &str| {
            s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>()
        };
        format!("{}_seq{}_{kind}", safe(self.model), safe(self.seq))
    }

    /// One line per series and serving mode (and per value, for p50/p99), x from
    /// `x`, sorted by x; repeated x values are averaged. Cells of different serving
    /// modes (direct, served, dynamic batching) are never joined into one curve.
    fn lines(&self, entries: &[Entry<'_>], x: fn(&Entry<'_>) -> f64, values: &[(&str, Value)]) -> Vec<Series> {
        let mut out = Vec::new();
        // Each series keeps its backend's colour unless another series of the chart
        // has it already (the same backend served another way): then a darker shade.
        let mut shades: Vec<(String, String, plotters::style::RGBColor)> = Vec::new();
        for (vi, (name, value)) in values.iter().enumerate() {
            // series -> (marker, backend, x bits -> values at that x)
            let mut by_series: BTreeMap<String, (usize, &str, PointsByX)> = BTreeMap::new();
            for e in entries {
                let Some(v) = value(e) else { continue };
                let slot = by_series.entry(format!("{}{}", e.series(self.many), e.serving())).or_insert((
                    self.marker(e),
                    &e.record.backend,
                    BTreeMap::new(),
                ));
                slot.2.entry(x(e).to_bits()).or_default().push(v);
            }
            for (label, (marker, backend, points)) in by_series {
                let mut pts: Vec<(f64, f64)> = points
                    .into_iter()
                    .map(|(k, v)| (f64::from_bits(k).log10(), v.iter().sum::<f64>() / v.len() as f64))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let color = match shades.iter().find(|(l, ..)| *l == label) {
                    Some((.., c)) => *c,
                    None => {
                        let base = backend_color(backend);
                        let taken = shades.iter().filter(|(_, b, _)| b == backend).count() as i32;
                        let shade = |v: u8| (v as f64 * 0.6f64.powi(taken)) as u8;
                        let color = plotters::style::RGBColor(shade(base.0), shade(base.1), shade(base.2));
                        shades.push((label.clone(), backend.to_string(), color));
                        color
                    }
                };
                let label = if name.is_empty() { label } else { format!("{label} {name}") };
                out.push(Series { label, color, dashed: vi == 1, marker, points: pts });
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_line(
        &self,
        files: &mut Vec<ChartFile>,
        kind: &str,
        what: &str,
        x_desc: &str,
        y_desc: &str,
        x_axis: Axis,
        series: Vec<Series>,
    ) -> Result<(), ReportError> {
        let (x_desc, y_desc) = (x_desc.into(), y_desc.into());
        self.emit_chart(
            files,
            kind,
            LineChart { title: self.title(what), x_desc, y_desc, x_axis, series, marks: vec![] },
        )
    }

    /// Per batch size (concurrency 1), throughput against recall@10 of every cell that
    /// ran the retrieval check, when at least two did.
    fn speed_vs_quality(&self, files: &mut Vec<ChartFile>, entries: &[Entry<'_>]) -> Result<(), ReportError> {
        let mut by_batch: BTreeMap<usize, Vec<Point>> = BTreeMap::new();
        for e in entries {
            let r = e.record;
            let (Some(q), Some(tput)) = (&r.retrieval, r.embeddings_per_s) else { continue };
            if r.cache.is_some() || r.concurrency != 1 || r.mode != embench_schema::LoadMode::ClosedLoop {
                continue;
            }
            let precision = r.precision.map_or_else(|| "unknown".into(), |p| p.to_string());
            let label = match (r.backend.contains(&precision), self.many) {
                (true, false) => r.backend.clone(),
                (false, false) => format!("{} {precision}", r.backend),
                (true, true) => format!("{} @ {}", r.backend, e.host),
                (false, true) => format!("{} {precision} @ {}", r.backend, e.host),
            };
            by_batch.entry(r.batch_size).or_default().push(Point {
                label,
                color: backend_color(&r.framework),
                recall: q.recall_at_10,
                throughput: tput,
                below: !r.valid,
            });
        }
        for (batch, points) in by_batch.into_iter().filter(|(_, p)| p.len() >= 2) {
            let title = self.title(&format!("speed vs quality at batch {batch} (retrieval agreement with fp32)"));
            let chart = ScatterChart { title: title.clone(), points };
            self.write(files, &format!("speed_vs_quality_b{batch}"), &title, |dir, stem| save(&chart, dir, stem))?;
        }
        Ok(())
    }

    fn emit_chart(&self, files: &mut Vec<ChartFile>, kind: &str, chart: LineChart) -> Result<(), ReportError> {
        // A curve needs two points somewhere; a single dot per backend is in the tables already.
        if !chart.series.iter().any(|s| s.points.len() >= 2) {
            return Ok(());
        }
        self.write(files, kind, &chart.title.clone(), |dir, stem| save(&chart, dir, stem))
    }

    #[allow(clippy::too_many_arguments)]
    fn bars(
        &self,
        files: &mut Vec<ChartFile>,
        entries: &[Entry<'_>],
        kind: &str,
        what: &str,
        y_desc: &str,
        reduce: fn(&[f64]) -> f64,
        value: Value,
    ) -> Result<(), ReportError> {
        let mut by_series: BTreeMap<String, (&str, Vec<f64>)> = BTreeMap::new();
        for e in entries {
            if let Some(v) = value(e) {
                by_series.entry(e.series(self.many)).or_insert((&e.record.backend, Vec::new())).1.push(v);
            }
        }
        if by_series.is_empty() {
            return Ok(());
        }
        let bars =
            by_series.into_iter().map(|(label, (backend, v))| (label, backend_color(backend), reduce(&v))).collect();
        let chart = BarChart { title: self.title(what), y_desc: y_desc.into(), bars };
        self.write(files, kind, &chart.title.clone(), |dir, stem| save(&chart, dir, stem))
    }

    /// The percentile curve of each series' lowest-load cell (lowest concurrency, then batch), from its histogram.
    fn distribution(&self, files: &mut Vec<ChartFile>, entries: &[Entry<'_>]) -> Result<(), ReportError> {
        let mut pick: BTreeMap<String, &Entry<'_>> = BTreeMap::new();
        for e in entries.iter().filter(|e| e.record.histogram.is_some()) {
            let key = |e: &Entry<'_>| (e.record.concurrency, e.record.batch_size);
            let slot = pick.entry(e.series(self.many)).or_insert(e);
            if key(e) < key(slot) {
                *slot = e;
            }
        }
        let mut series = Vec::new();
        for (label, e) in pick {
            let h = LatencyHistogram::from_base64(e.record.histogram.as_deref().unwrap_or_default()).map_err(|m| {
                ReportError::Input(format!("{} / {}: bad histogram: {m}", e.record.model, e.record.backend))
            })?;
            let n = h.len() as f64;
            let points = QUANTILES
                .iter()
                .filter(|&&q| q == 0.0 || requests_needed(q) as f64 <= n)
                .map(|&q| ((1.0 / (1.0 - q)).log10(), h.quantile_ms(q)))
                .collect();
            let label = format!("{label} (c={}, b={})", e.record.concurrency, e.record.batch_size);
            series.push(Series {
                label,
                color: backend_color(&e.record.backend),
                dashed: false,
                marker: self.marker(e),
                points,
            });
        }
        self.emit_line(
            files,
            "latency_distribution",
            "latency distribution",
            "percentile",
            "latency (ms)",
            Axis::Percentile,
            series,
        )
    }

    fn write(
        &self,
        files: &mut Vec<ChartFile>,
        kind: &str,
        title: &str,
        draw: impl FnOnce(&Path, &str) -> Result<(), ReportError>,
    ) -> Result<(), ReportError> {
        let stem = self.stem(kind);
        draw(self.dir, &stem)?;
        files.push(ChartFile { model: self.model.into(), seq: self.seq.into(), title: title.into(), stem });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embench_schema::CellRecord;

    /// A fixture record at `concurrency`, direct or through a dynamic-batching queue.
    fn cell(concurrency: usize, batching: bool) -> CellRecord {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs/host-a/results.jsonl");
        let line = std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string();
        let mut r: CellRecord = serde_json::from_str(&line).unwrap();
        r.concurrency = concurrency;
        r.execution = batching.then(|| {
            serde_json::from_value(serde_json::json!({
                "replicas": 1, "workers_per_model": 1, "threads_per_replica": 2, "requested": "auto",
                "max_batch_size": 8, "max_wait_us": 5000, "mean_formed_batch": 4.0, "formed_batches": {}
            }))
            .unwrap()
        });
        r
    }

    #[test]
    fn curves_join_only_cells_of_the_same_serving_mode() {
        let records = [cell(1, false), cell(4, false), cell(8, true)];
        let entries: Vec<Entry<'_>> = records.iter().map(|record| Entry { host: "h", record }).collect();
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx { model: "m", seq: "32", dir: dir.path(), hosts: &["h"], many: false };
        let series = ctx.lines(&entries, |e| e.record.concurrency as f64, &[("", |e| e.record.qps)]);
        let shape: Vec<(&str, usize)> = series.iter().map(|s| (s.label.as_str(), s.points.len())).collect();
        let backend = records[0].backend.as_str();
        assert_eq!(shape.len(), 2, "{shape:?}");
        assert!(shape.contains(&(backend, 2)), "{shape:?}");
        assert!(shape.contains(&(format!("{backend} (dynamic batching)").as_str(), 1)), "{shape:?}");
        assert_ne!(series[0].color, series[1].color, "two series of one chart never share a colour");
    }
}
