//! The correctness gate: before a cell is measured, the backend embeds the
//! model's probe set and every vector is compared with its reference (written
//! by `scripts/convert_models.sh` from PyTorch). A cell below the bound is still
//! measured, but recorded `valid: false` with the reason.

use embench_core::config::ResolvedModel;
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{Embedder, Precision};

/// Minimum cosine for full precision.
pub const FP32_MIN_COSINE: f64 = 0.999;
/// Minimum cosine for reduced precision (bf16, fp16, int8).
pub const REDUCED_MIN_COSINE: f64 = 0.99;

/// The bound for a precision.
pub fn threshold(precision: Precision) -> f64 {
    if precision == Precision::Fp32 {
        FP32_MIN_COSINE
    } else {
        REDUCED_MIN_COSINE
    }
}

/// A model's probe set and the tokenizer to encode it.
pub struct Gate {
    reference: ReferenceSet,
    tokenizer: TextTokenizer,
}

/// What the gate found.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    /// The smallest cosine over the probe set.
    pub min_cosine: f64,
    /// The bound it had to meet.
    pub threshold: f64,
}

impl GateResult {
    /// Whether every vector met the bound.
    pub fn passed(&self) -> bool {
        self.min_cosine >= self.threshold
    }
}

impl Gate {
    /// The gate of `model`: None when the model has no reference file (the cells then carry a warning).
    pub fn for_model(model: &ResolvedModel) -> Result<Option<Gate>, String> {
        let Some(folder) = &model.folder else { return Ok(None) };
        let path = folder.reference();
        if !path.is_file() {
            return Ok(None);
        }
        let reference = ReferenceSet::from_file(&path)?;
        let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), model.config.max_seq_length.value)?;
        Ok(Some(Gate { reference, tokenizer }))
    }

    /// Embeds the probe set with `embedder` and compares it with the reference.
    pub fn check(&self, embedder: &dyn Embedder) -> Result<GateResult, String> {
        let cosines = self.reference.cosines(embedder, &self.tokenizer)?;
        // Clamped: rounding can put a cosine of parallel vectors a hair past ±1.
        let min_cosine = cosines.iter().map(|&c| (c as f64).clamp(-1.0, 1.0)).fold(f64::INFINITY, f64::min);
        Ok(GateResult { min_cosine, threshold: threshold(embedder.info().precision) })
    }
}
