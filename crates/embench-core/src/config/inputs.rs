//! The config's `input_config` and `dataset` blocks: what every scenario's inputs are made of.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::sizes::{one_or_many, OneOrMany, SeqLen};

/// Input settings shared by all scenarios.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Token lengths to test (each scenario runs at each), or `natural`; one length
    /// may be written alone (`64` is `[64]`), as `batch_size` may.
    #[schemars(with = "OneOrMany<SeqLen>")]
    #[serde(deserialize_with = "one_or_many")]
    pub sequence_lengths: Vec<Spanned<SeqLen>>,
    /// Unrecorded requests after the first (cold) one.
    pub warmup_requests: usize,
    /// Memory a cell may plan to use, MiB (default: the machine's available memory);
    /// cells whose estimate exceeds 85 % of it are skipped with the reason.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub memory_budget_mb: Option<Spanned<f64>>,
    /// A cell whose RSS peaks above this many MiB in any phase (load, warm-up,
    /// measure) carries a warning (default: 85 % of the memory budget).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub memory_warn_mb: Option<Spanned<f64>>,
    /// Seconds a cell may take before its worker process is killed and the cell
    /// recorded as timed out (default 1800).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub cell_timeout_s: Option<Spanned<f64>>,
    /// Model instances that may load at the same time (default 1: loads are the
    /// moment memory peaks, so they go one by one unless this says otherwise).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub max_concurrent_loads: Option<Spanned<usize>>,
}

/// Where texts and images come from.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A text file (one text per line) or JSONL (`{"text": ...}` per line); synthetic when absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Seed of the synthetic texts and images, and of their order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Image scenarios: a folder of JPEG, PNG or WebP files (relative to the config);
    /// seeded synthetic photo-like JPEGs when absent. A file that cannot be decoded
    /// is skipped with a warning and counted.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub images: Option<Spanned<String>>,
    /// Synthetic images' size before preprocessing, `[width, height]` pixels
    /// (default `[640, 480]`: a camera-like source, so decoding and resizing cost what they would).
    #[serde(default)]
    #[schemars(with = "Option<[u32; 2]>")]
    pub synthetic_image_size: Option<Spanned<[u32; 2]>>,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self { path: None, seed: default_seed(), images: None, synthetic_image_size: None }
    }
}

fn default_seed() -> u64 {
    42
}
