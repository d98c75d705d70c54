//! The stored matrix-multiply peak (`embench sysinfo --peak`), against which
//! each cell's achieved model GFLOP/s becomes a utilisation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::machine::host::HostFacts;

/// Where `embench sysinfo --peak` stores the peak and `embench run` reads it, relative to the project.
pub const PEAK_FILE: &str = "results/peak.json";

/// Environment variable naming the peak file instead (for an installed binary, or several machines' files).
pub const PEAK_FILE_ENV: &str = "EMBENCH_PEAK_FILE";

/// The peak file, the same wherever embench runs: `$EMBENCH_PEAK_FILE`, else
/// [`PEAK_FILE`] in the project the executable belongs to (the nearest ancestor of
/// the executable holding `Cargo.toml` and `configs/`, as `target/debug/embench`
/// sits in its checkout; for an installed binary, the checkout it was built from),
/// else in the working directory.
pub fn peak_file() -> PathBuf {
    if let Some(p) = std::env::var_os(PEAK_FILE_ENV) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().ok();
    let project = exe
        .as_deref()
        .and_then(|e| e.ancestors().find(|a| a.join("Cargo.toml").is_file() && a.join("configs").is_dir()));
    match project {
        Some(root) => root.join(PEAK_FILE),
        None => PathBuf::from(PEAK_FILE),
    }
}

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
    /// This machine's stored peaks from [`peak_file`], or why there are none (naming where it looked).
    pub fn find(host: &HostFacts) -> Result<Self, String> {
        let path = peak_file();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!("no matrix-multiply peak at {} ({e}; fix: `make peak`, or set {PEAK_FILE_ENV})", path.display())
        })?;
        let peaks: Peaks = serde_json::from_str(&text)
            .map_err(|e| format!("{}: {e} (fix: `make peak` writes it again)", path.display()))?;
        if (peaks.hostname.as_str(), peaks.cpu_model.as_str()) != (host.hostname.as_str(), host.cpu_model.as_str()) {
            return Err(format!(
                "{} was measured on {} ({}), not this machine (fix: `make peak` here)",
                path.display(),
                peaks.hostname,
                peaks.cpu_model
            ));
        }
        Ok(peaks)
    }

    /// The peak (best GFLOP/s) for computing in `precision` (as a result records it).
    /// bf16 compute compares with the bf16 peak only when that ran in bf16.
    pub fn for_precision(&self, precision: &str) -> Option<&PeakEntry> {
        self.entries.iter().find(|e| e.precision == precision && e.requested == precision)
    }
}
