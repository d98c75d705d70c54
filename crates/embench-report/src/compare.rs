//! `embench compare`: QPS and p99 change per matched cell, with a noise threshold.

use std::collections::BTreeMap;
use std::fmt::Write;

use embench_schema::CellRecord;

use crate::fmt::ms;
use crate::runs::{seq_label, Run};
use crate::table::Table;

/// What identifies a cell across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CellKey {
    /// Model key.
    pub model: String,
    /// Backend.
    pub backend: String,
    /// Scenario name.
    pub scenario: String,
    /// Clients.
    pub concurrency: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Sequence length label.
    pub seq: String,
}

impl CellKey {
    fn of(r: &CellRecord) -> Self {
        Self {
            model: r.model.clone(),
            backend: r.backend.clone(),
            scenario: r.scenario_label(),
            concurrency: r.concurrency,
            batch_size: r.batch_size,
            seq: seq_label(&r.seq_len),
        }
    }
}

impl std::fmt::Display for CellKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} / {} / {} (c={}, b={}, seq={})",
            self.model, self.backend, self.scenario, self.concurrency, self.batch_size, self.seq
        )
    }
}

/// How a matched cell moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Beyond the threshold, for the better (and nothing worse).
    Better,
    /// Beyond the threshold, for the worse.
    Worse,
    /// Within the threshold.
    Noise,
    /// Invalid in the candidate (or both): no figures to compare.
    Invalid,
}

/// One matched cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CellDelta {
    /// The cell.
    pub key: CellKey,
    /// Baseline and candidate QPS.
    pub qps: (Option<f64>, Option<f64>),
    /// Baseline and candidate p99, ms.
    pub p99: (Option<f64>, Option<f64>),
    /// QPS change, percent (positive: faster).
    pub qps_change_pct: Option<f64>,
    /// p99 change, percent (positive: slower).
    pub p99_change_pct: Option<f64>,
    /// The verdict at the threshold.
    pub verdict: Verdict,
    /// Whether the baseline cell was valid.
    pub baseline_valid: bool,
}

impl CellDelta {
    /// Whether this cell got worse by more than `pct` percent (or broke).
    pub fn regressed_beyond(&self, pct: f64) -> bool {
        match self.verdict {
            Verdict::Invalid => self.baseline_valid,
            _ => self.qps_change_pct.is_some_and(|c| c < -pct) || self.p99_change_pct.is_some_and(|c| c > pct),
        }
    }
}

/// The comparison of two runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// Noise threshold, percent.
    pub threshold_pct: f64,
    /// Matched cells, in key order.
    pub matched: Vec<CellDelta>,
    /// Cells only the baseline has.
    pub only_baseline: Vec<CellKey>,
    /// Cells only the candidate has.
    pub only_candidate: Vec<CellKey>,
}

fn change(base: Option<f64>, cand: Option<f64>) -> Option<f64> {
    match (base, cand) {
        (Some(b), Some(c)) if b > 0.0 => Some((c - b) / b * 100.0),
        _ => None,
    }
}

/// Compares `candidate` against `baseline`; changes within `threshold_pct` are noise.
pub fn compare(baseline: &Run, candidate: &Run, threshold_pct: f64) -> Comparison {
    let index = |run: &Run| -> BTreeMap<CellKey, CellRecord> {
        run.records.iter().map(|r| (CellKey::of(r), r.clone())).collect()
    };
    let (base, cand) = (index(baseline), index(candidate));
    let mut matched = Vec::new();
    for (key, b) in &base {
        let Some(c) = cand.get(key) else { continue };
        let qps = (b.qps, c.qps);
        // A p99 from too few requests is one of the largest few: not a figure to gate on.
        let p99 = (
            b.latency_ms.as_ref().and_then(|l| l.supported("p99")),
            c.latency_ms.as_ref().and_then(|l| l.supported("p99")),
        );
        let (qps_change_pct, p99_change_pct) = (change(qps.0, qps.1), change(p99.0, p99.1));
        let verdict = if !(b.valid && c.valid) {
            Verdict::Invalid
        } else if qps_change_pct.is_some_and(|x| x < -threshold_pct)
            || p99_change_pct.is_some_and(|x| x > threshold_pct)
        {
            Verdict::Worse
        } else if qps_change_pct.is_some_and(|x| x > threshold_pct)
            || p99_change_pct.is_some_and(|x| x < -threshold_pct)
        {
            Verdict::Better
        } else {
            Verdict::Noise
        };
        matched.push(CellDelta {
            key: key.clone(),
            qps,
            p99,
            qps_change_pct,
            p99_change_pct,
            verdict,
            baseline_valid: b.valid,
        });
    }
    Comparison {
        threshold_pct,
        matched,
        only_baseline: base.keys().filter(|k| !cand.contains_key(k)).cloned().collect(),
        only_candidate: cand.keys().filter(|k| !base.contains_key(k)).cloned().collect(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:+.1}%"))
}

impl Comparison {
    /// The comparison as markdown.
    pub fn markdown(&self, baseline: &str, candidate: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# embench compare\n");
        let _ = writeln!(
            md,
            "Baseline `{baseline}`, candidate `{candidate}`. Changes within ±{}% are noise.\n",
            self.threshold_pct
        );
        let mut table = Table::new(&[
            "cell",
            "QPS base",
            "QPS cand",
            "QPS change",
            "p99 base ms",
            "p99 cand ms",
            "p99 change",
            "verdict",
        ]);
        for d in &self.matched {
            let verdict = match d.verdict {
                Verdict::Better => "better",
                Verdict::Worse => "**WORSE**",
                Verdict::Noise => "noise",
                Verdict::Invalid if d.baseline_valid => "**INVALID in candidate**",
                Verdict::Invalid => "invalid in baseline",
            };
            let q = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
            table.row(&[
                d.key.to_string(),
                q(d.qps.0),
                q(d.qps.1),
                pct(d.qps_change_pct),
                ms(d.p99.0),
                ms(d.p99.1),
                pct(d.p99_change_pct),
                verdict.to_string(),
            ]);
        }
        md.push_str(&table.finish());
        for (title, keys) in
            [("Only in the baseline", &self.only_baseline), ("Only in the candidate", &self.only_candidate)]
        {
            if !keys.is_empty() {
                let _ = writeln!(md, "\n{title} (not compared):\n");
                for k in keys {
                    let _ = writeln!(md, "- {k}");
                }
            }
        }
        md
    }
}
