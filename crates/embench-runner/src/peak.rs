//! The stored matrix-multiply peak (`embench sysinfo --peak`), against which
//! each cell's achieved model GFLOP/s becomes a utilisation.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::host::HostFacts;

/// Where `embench sysinfo --peak` stores the peak and `embench run` reads it.
pub const PEAK_FILE: &str = "results/peak.json";

/// One precision's peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakEntry {
    /// Precision asked for (`fp32`, `bf16`).
    pub requested: String,
    /// Precision that ran.
    pub precision: String,
    /// Best GFLOP/s.
    pub gflops: f64,
    /// Median GFLOP/s.
    pub median_gflops: f64,
    /// Matrix size.
    pub n: usize,
    /// Threads.
    pub threads: usize,
    /// What measured it.
    pub library: String,
}

/// The peaks of one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peaks {
    /// Host name it was measured on.
    pub hostname: String,
    /// CPU it was measured on.
    pub cpu_model: String,
    /// When.
    pub measured_at: String,
    /// Per precision.
    pub entries: Vec<PeakEntry>,
}

impl Peaks {
    /// The stored peaks at `path` when they were measured on `host` (same host name and CPU), else None.
    pub fn load_for(path: &Path, host: &HostFacts) -> Option<Self> {
        let peaks: Peaks = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        (peaks.hostname == host.hostname && peaks.cpu_model == host.cpu_model).then_some(peaks)
    }

    /// The peak (best GFLOP/s) for computing in `precision` (as a result records it).
    /// bf16 compute compares with the bf16 peak only when that ran in bf16.
    pub fn for_precision(&self, precision: &str) -> Option<&PeakEntry> {
        self.entries.iter().find(|e| e.precision == precision && e.requested == precision)
    }
}
