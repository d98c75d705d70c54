//! Every call the runner makes into a backend goes through [`Guarded`]: a panic
//! inside the backend becomes that request's error (the worker process and the
//! cell's other requests carry on), and every vector that comes back is checked
//! for NaN and infinity, counted per phase by an [`OutputCheck`].
//!
//! A backend whose numbers are broken (a bad `config.json`, an overflowing
//! reduced precision, a kernel bug at one shape) can be fast; its cell must not
//! be reported valid. The check reads each value's exponent bits once (a scan the
//! compiler vectorises): its cost is stated in the methodology.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use embench_core::{BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, TokenizedBatch};

use crate::cell::record::Verdict;
use crate::loadgen::worker_loop::panic_message;

/// Vectors returned and vectors with a NaN or infinite value, since the last [`OutputCheck::take`].
#[derive(Debug, Default)]
pub struct OutputCheck {
    vectors: AtomicU64,
    non_finite: AtomicU64,
}

/// What one phase's outputs held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputCount {
    /// Vectors the backend returned.
    pub vectors: u64,
    /// Of those, vectors with at least one NaN or infinite value.
    pub non_finite: u64,
}

impl OutputCheck {
    /// Counts `e`'s vectors and those that are not finite.
    pub fn note(&self, e: &Embeddings) {
        self.vectors.fetch_add(e.rows as u64, Ordering::Relaxed);
        let bad = non_finite_rows(e);
        if bad > 0 {
            self.non_finite.fetch_add(bad as u64, Ordering::Relaxed);
        }
    }

    /// The counts so far, and starts again from zero (one phase ends, the next begins).
    pub fn take(&self) -> OutputCount {
        OutputCount {
            vectors: self.vectors.swap(0, Ordering::Relaxed),
            non_finite: self.non_finite.swap(0, Ordering::Relaxed),
        }
    }
}

/// Rows of `e` with at least one NaN or infinite value.
///
/// An f32 is NaN or infinite exactly when its 8 exponent bits are all ones
/// (IEEE 754-2008, 3.4); OR-ing a test of each value keeps the loop branch-free.
pub fn non_finite_rows(e: &Embeddings) -> usize {
    const EXPONENT: u32 = 0x7f80_0000;
    e.data
        .chunks(e.dim.max(1))
        .filter(|row| row.iter().fold(false, |bad, v| bad | (v.to_bits() & EXPONENT == EXPONENT)))
        .count()
}

/// Matryoshka truncation of a model's vectors: the first `dim` values of each,
/// L2-normalised again when the model's pipeline normalises (sentence-transformers'
/// `truncate_dim` followed by `normalize_embeddings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Values kept per vector.
    pub dim: usize,
    /// Normalise the kept values to unit length.
    pub normalize: bool,
}

impl Truncation {
    /// `out` cut to `dim` values per row (unchanged when it has no more).
    pub fn apply(&self, out: Embeddings) -> Embeddings {
        if out.dim <= self.dim {
            return out;
        }
        let mut data = Vec::with_capacity(out.rows * self.dim);
        for row in out.data.chunks(out.dim) {
            let start = data.len();
            data.extend_from_slice(&row[..self.dim]);
            if self.normalize {
                embench_core::pooling::l2_normalize(&mut data[start..]);
            }
        }
        Embeddings { rows: out.rows, dim: self.dim, data }
    }
}

/// A backend seen through the runner: panics become errors, outputs are checked
/// (and truncated, for a Matryoshka `embedding_dim`).
pub struct Guarded {
    inner: Box<dyn Embedder>,
    check: Arc<OutputCheck>,
    truncation: Option<Truncation>,
}

impl Guarded {
    /// Wraps `inner`, counting its outputs in `check`, cutting them per `truncation`.
    pub fn new(inner: Box<dyn Embedder>, check: Arc<OutputCheck>, truncation: Option<Truncation>) -> Self {
        Self { inner, check, truncation }
    }
}

impl Embedder for Guarded {
    fn info(&self) -> &BackendInfo {
        self.inner.info()
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        self.embed_input(EmbedInput::Text(batch))
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        let out = catch_unwind(AssertUnwindSafe(|| self.inner.embed_input(input)))
            .unwrap_or_else(|panic| Err(EmbedError::new("backend", Phase::Inference, panic_message(panic.as_ref()))))?;
        let (asked, what) = match input {
            EmbedInput::Text(b) => (b.batch_size, "texts"),
            EmbedInput::Image(b) => (b.batch_size, "images"),
        };
        if out.rows != asked || out.data.len() != out.rows * out.dim {
            return Err(EmbedError::new(
                "backend",
                Phase::Inference,
                format!(
                    "returned {} vectors ({} values, dimension {}) for a batch of {asked} {what}",
                    out.rows,
                    out.data.len(),
                    out.dim,
                ),
            ));
        }
        self.check.note(&out);
        Ok(match self.truncation {
            Some(t) => t.apply(out),
            None => out,
        })
    }

    fn max_batch_size(&self) -> Option<usize> {
        self.inner.max_batch_size()
    }

    fn transport(&self) -> Option<embench_schema::HttpFigures> {
        self.inner.transport()
    }
}

/// A problem when a phase's outputs held NaN or infinity, saying how many and the fix.
pub fn judge_outputs(count: OutputCount, phase: &str) -> Verdict {
    let mut verdict = Verdict::default();
    if count.non_finite > 0 {
        verdict.fail(format!(
            "{phase}: {} of {} vectors the backend returned hold NaN or infinity (fix: the model's numbers are broken: check its config.json (e.g. layer_norm_eps), its conversion, or a precision that overflows)",
            count.non_finite, count.vectors
        ));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend whose pooling asserts, as embench-core's does on a wrong-sized hidden state.
    struct Panics(BackendInfo);

    impl Embedder for Panics {
        fn info(&self) -> &BackendInfo {
            &self.0
        }

        fn embed(&self, _: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
            panic!("hidden state has the wrong size")
        }
    }

    #[test]
    fn a_panic_in_a_backend_is_that_requests_error() {
        let info = BackendInfo {
            framework: "openvino".into(),
            framework_version: "x".into(),
            device: "cpu".into(),
            precision: Default::default(),
            intra_op_threads: 1,
            settings: Default::default(),
            notes: Vec::new(),
        };
        let guarded = Guarded::new(Box::new(Panics(info)), Arc::default(), None);
        let batch = TokenizedBatch {
            batch_size: 1,
            seq_len: 2,
            input_ids: vec![1, 2],
            attention_mask: vec![1, 1],
            token_type_ids: vec![0, 0],
            texts: Vec::new(),
        };
        let e = guarded.embed(&batch).unwrap_err().to_string();
        assert_eq!(e, "backend failed during inference: backend panicked: hidden state has the wrong size");
        assert!(guarded.embed(&batch).is_err(), "and the next request is served the same way");
    }

    #[test]
    fn counts_rows_with_any_nan_or_infinity() {
        let mut data = vec![0.5f32; 12];
        data[1] = f32::NAN;
        data[5] = f32::NEG_INFINITY;
        data[7] = f32::INFINITY;
        data[11] = f32::MAX; // finite
        let e = Embeddings { rows: 4, dim: 3, data };
        assert_eq!(non_finite_rows(&e), 3, "rows 0, 1 and 2; row 3 holds f32::MAX, which is finite");
        let check = OutputCheck::default();
        check.note(&e);
        check.note(&e);
        assert_eq!(check.take(), OutputCount { vectors: 8, non_finite: 6 });
        assert_eq!(check.take(), OutputCount::default());
    }
}
