//! The `quality` section: which cells run the retrieval-agreement check
//! ([`crate::retrieval`]) and the recall@10 each precision must keep.

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::embedder::Precision;

/// Which cells run the retrieval-agreement check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalCheck {
    /// Cells that ran in a precision other than fp32 (default).
    #[default]
    Reduced,
    /// Every cell of a model with a corpus, fp32 too (its agreement with sentence-transformers).
    All,
    /// None.
    Off,
}

/// The recall@10 bound of each precision, as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallBounds {
    /// fp32 cells (`retrieval_check: all`; default 0.99).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub fp32: Option<Spanned<f64>>,
    /// fp16 cells (default 0.99).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub fp16: Option<Spanned<f64>>,
    /// bf16 cells (default 0.99).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub bf16: Option<Spanned<f64>>,
    /// int8 cells (default 0.95).
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub int8: Option<Spanned<f64>>,
}

impl RecallBounds {
    /// The bound written for `precision`, with its place.
    pub fn get(&self, precision: Precision) -> Option<&Spanned<f64>> {
        match precision {
            Precision::Fp32 => self.fp32.as_ref(),
            Precision::Fp16 => self.fp16.as_ref(),
            Precision::Bf16 => self.bf16.as_ref(),
            Precision::Int8 => self.int8.as_ref(),
        }
    }
}

/// The `quality` section as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualitySpec {
    /// `reduced` (default: every cell that ran in fp16, bf16 or int8), `all` (fp32
    /// cells too) or `off`: embed the model's retrieval corpus (2 000 sentences,
    /// `<model>/retrieval/`) after the cell's measurement and compare the neighbours
    /// of 100 queries with sentence-transformers' fp32 ones; once per backend,
    /// precision and model files (cached), never in a measured phase.
    #[serde(default)]
    #[schemars(with = "Option<RetrievalCheck>")]
    pub retrieval_check: Option<Spanned<RetrievalCheck>>,
    /// The mean recall@10 a cell must keep, per precision (0 < bound <= 1; defaults
    /// fp32 0.99, fp16 0.99, bf16 0.99, int8 0.95); below it the cell is invalid, with its figures.
    #[serde(default)]
    pub min_recall_at_10: Option<RecallBounds>,
}

/// The `quality` section, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Which cells run the check.
    pub retrieval_check: RetrievalCheck,
    /// Bounds: fp32, fp16, bf16, int8.
    pub min_recall_at_10: [f64; 4],
}

/// Default recall@10 bounds (fp32, fp16, bf16, int8): the (23) 0.95 for
/// int8 and 0.99 for 16-bit floats; fp32 against sentence-transformers' fp32
/// (another runtime, the same numbers up to summation order) as tight as 16-bit.
pub const DEFAULT_MIN_RECALL_AT_10: [f64; 4] = [0.99, 0.99, 0.99, 0.95];

impl Default for Quality {
    fn default() -> Self {
        Self { retrieval_check: RetrievalCheck::Reduced, min_recall_at_10: DEFAULT_MIN_RECALL_AT_10 }
    }
}

impl Quality {
    /// The index of `precision` in [`Quality::min_recall_at_10`].
    pub fn slot(precision: Precision) -> usize {
        match precision {
            Precision::Fp32 => 0,
            Precision::Fp16 => 1,
            Precision::Bf16 => 2,
            Precision::Int8 => 3,
        }
    }

    /// The bound a cell that ran in `precision` must meet, or None when it does not run the check.
    pub fn bound(&self, precision: Precision) -> Option<f64> {
        let checked = match self.retrieval_check {
            RetrievalCheck::Off => false,
            RetrievalCheck::All => true,
            RetrievalCheck::Reduced => precision != Precision::Fp32,
        };
        checked.then(|| self.min_recall_at_10[Self::slot(precision)])
    }
}
