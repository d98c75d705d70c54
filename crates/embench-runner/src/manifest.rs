//! `manifest.json`: what produced a run directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::host::HostFacts;

/// Versions of one backend as this binary was built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendVersion {
    /// Backend name.
    pub backend: String,
    /// Whether this binary was built with it.
    pub compiled: bool,
    /// Its library version, when compiled.
    pub version: Option<String>,
}

/// The run's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Results layout version.
    pub schema_version: u32,
    /// embench's version.
    pub embench_version: String,
    /// embench's git commit (with `-dirty` when the tree had changes).
    pub git_commit: String,
    /// Command line.
    pub command: Vec<String>,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When the run ended (None while running or after a crash).
    pub finished_at: Option<String>,
    /// When `embench run --resume` picked the run up again, in order.
    #[serde(default)]
    pub resumed_at: Vec<String>,
    /// The benchmark config file.
    pub config_path: String,
    /// The models file.
    pub models_path: String,
    /// The benchmark config as resolved (defaults filled in).
    pub config: serde_json::Value,
    /// The active models as resolved (pooling filled in).
    pub models: serde_json::Value,
    /// The machine.
    pub host: HostFacts,
    /// Its tier and the settings it recommends (`embench sysinfo`).
    #[serde(default)]
    pub recommendation: Option<crate::tier::Recommendation>,
    /// Backends and their library versions.
    pub backends: Vec<BackendVersion>,
    /// How measurements were taken, in words a reader can check.
    pub methodology: Vec<String>,
    /// The cells chosen on the command line (`--model`, `--backend`, `--scenario`); `--resume` keeps to them.
    #[serde(default, skip_serializing_if = "crate::plan::CellFilter::is_empty")]
    pub filter: crate::plan::CellFilter,
}

impl Manifest {
    /// Writes the manifest through a temporary file and a rename, so a reader never sees half of it.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(".manifest.json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, &body)?;
        file.sync_all()?;
        std::fs::rename(tmp, dir.join("manifest.json"))
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
