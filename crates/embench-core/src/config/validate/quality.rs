//! Validation of the `quality` section.

use super::Validator;
use crate::config::quality::{Quality, QualitySpec};
use crate::embedder::Precision;

impl Validator<'_> {
    /// The section resolved; a bound outside (0, 1] is an error.
    pub(super) fn quality(&mut self, spec: Option<&QualitySpec>) -> Quality {
        let mut quality = Quality::default();
        let Some(spec) = spec else { return quality };
        if let Some(c) = &spec.retrieval_check {
            quality.retrieval_check = c.value;
        }
        for precision in [Precision::Fp32, Precision::Fp16, Precision::Bf16, Precision::Int8] {
            let Some(bound) = spec.min_recall_at_10.as_ref().and_then(|b| b.get(precision)) else { continue };
            if !(bound.value > 0.0 && bound.value <= 1.0) {
                let field = format!("quality.min_recall_at_10.{precision}");
                let e = self.at(bound, field, format!("recall@10 bound {} is not a share", bound.value));
                self.err(e.fix("use a number above 0 and at most 1 (e.g. 0.95), or remove it for the default"));
            }
            quality.min_recall_at_10[Quality::slot(precision)] = bound.value;
        }
        quality
    }
}
