//! Run directories loaded for reporting, with the host as a dimension.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use embench_schema::read_records;
use embench_schema::CellRecord;
use embench_schema::Manifest;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A run directory is missing a file or has a malformed one.
    #[error("{0}")]
    Input(String),
    /// Writing an output failed.
    #[error("writing {path}: {message}")]
    Output {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One run directory.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory.
    pub dir: PathBuf,
    /// Label of the run's machine (host name, made unique across runs).
    pub host: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its cells, in file order.
    pub records: Vec<CellRecord>,
}

/// A cell with the host it ran on.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Host label.
    pub host: &'a str,
    /// The cell.
    pub record: &'a CellRecord,
}

impl Entry<'_> {
    /// The record's sequence length as text (`128`, `natural`).
    pub fn seq(&self) -> String {
        seq_label(&self.record.seq_len)
    }

    /// How requests reached the model, as a label suffix: empty when the clients
    /// called it directly, ` (served)` through replicas × workers, ` (dynamic
    /// batching)` through a batching queue. Curves join only cells with the same one.
    pub fn serving(&self) -> &'static str {
        match &self.record.execution {
            None => "",
            Some(e) if e.max_batch_size.is_some() => " (dynamic batching)",
            Some(_) => " (served)",
        }
    }

    /// `backend` alone, or `backend @ host` when a report spans several hosts.
    pub fn series(&self, many_hosts: bool) -> String {
        if many_hosts {
            format!("{} @ {}", self.record.backend, self.host)
        } else {
            self.record.backend.clone()
        }
    }
}

/// `128` or `natural`.
pub fn seq_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Several runs, merged.
#[derive(Debug, Clone)]
pub struct Runs {
    /// The runs, in the order given.
    pub runs: Vec<Run>,
}

/// Loads run directories.
pub fn load_runs(dirs: &[PathBuf]) -> Result<Runs, ReportError> {
    let mut runs: Vec<Run> = dirs.iter().map(|d| load_run(d)).collect::<Result<_, _>>()?;
    // Runs of one machine are told apart by their directories' names, not by a number.
    for i in 0..runs.len() {
        let name = &runs[i].manifest.host.hostname;
        if runs.iter().filter(|r| &r.manifest.host.hostname == name).count() > 1 {
            let dir = runs[i]
                .dir
                .file_name()
                .map_or_else(|| runs[i].dir.display().to_string(), |n| n.to_string_lossy().into_owned());
            runs[i].host = format!("{name} ({dir})");
        }
    }
    if runs.is_empty() {
        return Err(ReportError::Input("no run directories given".into()));
    }
    Ok(Runs { runs })
}

fn load_run(dir: &Path) -> Result<Run, ReportError> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        ReportError::Input(format!(
            "{}: {e} (fix: pass a run directory made by `embench run`)",
            manifest_path.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| ReportError::Input(format!("{}: not an embench manifest: {e}", manifest_path.display())))?;
    let records = read_records(&dir.join("results.jsonl")).map_err(ReportError::Input)?;
    Ok(Run { dir: dir.to_path_buf(), host: manifest.host.hostname.clone(), manifest, records })
}

impl Runs {
    /// Every cell of every run.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.runs.iter().flat_map(|r| r.records.iter().map(move |record| Entry { host: &r.host, record }))
    }

    /// Whether the runs come from more than one host.
    pub fn many_hosts(&self) -> bool {
        self.runs.len() > 1
    }

    /// Cells grouped by (model, sequence length), in first-seen order.
    pub fn groups(&self) -> Vec<((String, String), Vec<Entry<'_>>)> {
        let mut order: Vec<(String, String)> = Vec::new();
        let mut map: BTreeMap<(String, String), Vec<Entry<'_>>> = BTreeMap::new();
        for e in self.entries() {
            let key = (e.record.model.clone(), e.seq());
            if !map.contains_key(&key) {
                order.push(key.clone());
            }
            map.entry(key).or_default().push(e);
        }
        order.into_iter().map(|k| (k.clone(), map.remove(&k).unwrap_or_default())).collect()
    }
}
