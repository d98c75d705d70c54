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
}

impl Manifest {
    /// Writes the manifest through a temporary file and a rename, so a reader never sees half of it.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(".manifest.json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(tmp, dir.join("manifest.json"))
    }
}
