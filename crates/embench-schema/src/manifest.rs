//! `manifest.json`: what produced a run directory.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    pub recommendation: Option<Recommendation>,
    /// Backends and their library versions.
    pub backends: Vec<BackendVersion>,
    /// How measurements were taken, in words a reader can check.
    pub methodology: Vec<String>,
    /// The cells chosen on the command line (`--model`, `--backend`, `--scenario`); `--resume` keeps to them.
    #[serde(default, skip_serializing_if = "CellFilter::is_empty")]
    pub filter: CellFilter,
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

/// The machine: what a reader needs to reproduce or compare a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// CPU brand string.
    pub cpu_model: String,
    /// CPU architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// Physical cores.
    pub physical_cores: Option<usize>,
    /// Logical CPUs.
    pub logical_cpus: usize,
    /// Instruction-set extensions that matter for inference, as detected at run time.
    pub isa_flags: Vec<String>,
    /// Total RAM, MiB.
    pub ram_total_mb: u64,
    /// Available RAM at start, MiB.
    pub ram_available_mb: u64,
    /// OS name and version.
    pub os: String,
    /// Kernel version.
    pub kernel: String,
    /// CPUs this process may use: CPU affinity and the container's cgroup CPU
    /// quota applied (what `nproc` and the core counts do not tell).
    #[serde(default)]
    pub usable_cpus: Option<usize>,
    /// The container's cgroup memory limit, MiB (None: no limit below the host's).
    #[serde(default)]
    pub cgroup_memory_limit_mb: Option<u64>,
    /// NVIDIA GPUs seen through NVML (empty without a driver).
    #[serde(default)]
    pub gpus: Vec<GpuFacts>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuFacts {
    /// Device name.
    pub name: String,
    /// Total memory, MiB.
    pub vram_total_mb: u64,
    /// Free memory when probed, MiB.
    pub vram_free_mb: u64,
}

impl HostFacts {
    /// Physical cores this process can use: the physical count, capped by the
    /// CPUs the container and affinity allow.
    pub fn effective_cores(&self) -> usize {
        let physical = self.physical_cores.unwrap_or(self.logical_cpus).max(1);
        self.usable_cpus.map_or(physical, |u| physical.min(u.max(1)))
    }

    /// RAM this process can use, MiB: the host's, capped by the cgroup limit.
    pub fn effective_ram_mb(&self) -> u64 {
        self.cgroup_memory_limit_mb.map_or(self.ram_total_mb, |l| l.min(self.ram_total_mb))
    }
}

/// How capable the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Tier {
    /// Under 4 physical cores or 8 GiB of RAM.
    Low,
    /// At least 4 physical cores and 8 GiB.
    Medium,
    /// At least 8 physical cores, 16 GiB and a GPU with 6 GiB of VRAM.
    High,
}

/// Settings for this machine, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The tier.
    pub tier: Tier,
    /// Intra-op threads per model instance: the usable physical cores (no hyper-thread oversubscription).
    pub intra_op_threads: usize,
    /// Concurrent workers: min(cores - 1, available RAM / 2 GiB, 8), at least 1.
    pub workers: usize,
    /// Texts per batch: 64 on a GPU with 6 GiB or more, 32 with a smaller GPU, 16 on the CPU.
    pub batch_size: usize,
    /// Whether to run on the GPU.
    pub use_gpu: bool,
    /// The facts each figure came from.
    pub reasons: Vec<String>,
}

/// Cells chosen on the command line (`--model`, `--backend`, `--scenario`): an
/// empty list takes every one. Kept in the manifest, so `--resume` runs the same cells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellFilter {
    /// Model keys.
    #[serde(default)]
    pub models: Vec<String>,
    /// Backend labels.
    #[serde(default)]
    pub backends: Vec<String>,
    /// Scenario names.
    #[serde(default)]
    pub scenarios: Vec<String>,
}

impl CellFilter {
    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty() && self.backends.is_empty() && self.scenarios.is_empty()
    }
}
