//! `results.jsonl`: the writer that makes each record durable the moment it
//! exists, and the readers for reports and `--resume`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::record::CellRecord;

/// Where finished records go: the results file, or (in a worker process) the pipe to the parent.
pub trait RecordSink {
    /// Keeps `record` (durably, for the file).
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()>;
    /// Every record of plan cell `cell` has been appended.
    fn cell_done(&mut self, _cell: usize) -> std::io::Result<()> {
        Ok(())
    }
    /// Where records go, for messages.
    fn describe(&self) -> String;
}

impl RecordSink for ResultsWriter {
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        ResultsWriter::append(self, record)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// The records of a results file that belong to complete cells, for `--resume`:
/// a torn last line (the process was killed while writing it) and the records of a
/// cell cut short (fewer than its `cell_parts`) are dropped. Returns the kept
/// records and how many lines were dropped.
pub fn read_complete_cells(path: &Path) -> Result<(Vec<CellRecord>, usize), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut records = Vec::new();
    let mut dropped = 0;
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<CellRecord>(line) {
            Ok(r) => records.push(r),
            // Only the last line can be torn by a kill; damage elsewhere is not ours to guess about.
            Err(_) if i + 1 == lines.len() => dropped += 1,
            Err(e) => return Err(format!("{}:{}: {e} (fix: repair or remove that line)", path.display(), i + 1)),
        }
    }
    let mut parts: std::collections::BTreeMap<usize, usize> = Default::default();
    for r in &records {
        if let Some(c) = r.cell {
            *parts.entry(c).or_default() += 1;
        }
    }
    let before = records.len();
    records.retain(|r| match (r.cell, r.cell_parts) {
        (Some(c), Some(n)) => parts[&c] >= n,
        _ => true,
    });
    let dropped = dropped + before - records.len();
    Ok((records, dropped))
}

/// Appends records to `results.jsonl`, flushed and fsynced per record, so a
/// later crash loses nothing already measured.
pub struct ResultsWriter {
    path: PathBuf,
    file: File,
}

impl ResultsWriter {
    /// Opens (creating or appending to) `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { path: path.to_path_buf(), file })
    }

    /// Writes one record as one line and makes it durable.
    pub fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()?;
        self.file.sync_data()
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of a `results.jsonl`.
pub fn read_records(path: &Path) -> Result<Vec<CellRecord>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(i, line)| {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            let mut record: CellRecord =
                serde_json::from_str(&line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            // Records written before summaries carried their count: the measured requests are it.
            if let Some(l) = record.latency_ms.as_mut().filter(|l| l.count == 0) {
                l.set_count(record.requests);
            }
            Ok(record)
        })
        .collect()
}
