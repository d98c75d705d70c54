//! Reference embeddings (computed once in PyTorch) and the comparison every
//! backend's parity test and the runner's correctness gate use.
//!
//! A model folder holds one reference set per sequence length: `reference.json`
//! for natural-length inputs (the probe sentences, each truncated at the model's
//! `max_seq_length`) and `references/seq_<N>.json` for inputs of exactly N tokens
//! (the probe sentences, padded to N, and long texts truncated to N), written by
//! `scripts/python/make_references.py`; with a model prompt before every text, the
//! same under `references/prompt-<name>/` (`natural.json`, `seq_<N>.json`).

use std::path::Path;

use serde::Deserialize;

use crate::config::SeqLen;
use crate::embedder::Embedder;
use crate::pooling::cosine;
use crate::tokenize::TextTokenizer;

/// A fixture: sentences and their reference vectors.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceSet {
    /// The probe sentences.
    pub sentences: Vec<String>,
    /// One reference vector per sentence.
    pub embeddings: Vec<Vec<f32>>,
    /// The length every input was truncated to (None: natural length).
    #[serde(default)]
    pub seq_len: Option<usize>,
    /// The prompt text put before every sentence when the vectors were made (None:
    /// none); the sentences are stored without it.
    #[serde(default)]
    pub prompt: Option<String>,
}

impl ReferenceSet {
    /// The set with every vector cut to its first `dim` values: sentence-transformers'
    /// `truncate_dim` (Matryoshka) is exactly that slice of the model's vector, so the
    /// truncated reference is the tool's own, and cosines stay scale-free.
    pub fn truncated(mut self, dim: usize) -> Self {
        self.embeddings.iter_mut().for_each(|v| v.truncate(dim));
        self
    }

    /// Reads a fixture written by `scripts/python/make_references.py`.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let set: ReferenceSet = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if set.sentences.len() != set.embeddings.len() || set.sentences.is_empty() {
            return Err(format!("{}: needs one embedding per sentence", path.display()));
        }
        Ok(set)
    }

    /// Embeds the sentences in one natural-length batch with `embedder` and
    /// returns the cosine similarity of each to its reference.
    pub fn cosines(&self, embedder: &dyn Embedder, tokenizer: &TextTokenizer) -> Result<Vec<f32>, String> {
        self.cosines_at(embedder, tokenizer, SeqLen::Natural, self.sentences.len())
    }

    /// Embeds the sentences at a cell's shape and returns the cosine of every row to
    /// its reference: batches of `batch_size` texts tokenized at `seq` exactly as the
    /// cell's inputs are (padded to `seq` tokens or to the batch's longest, truncated
    /// likewise), the sentences tiled in order until every one has been embedded and
    /// the last batch is full (`ceil(k / batch_size)` batches for `k` sentences).
    ///
    /// Errors: tokenization, the backend's own error, or a dimension other than the reference's.
    pub fn cosines_at(
        &self,
        embedder: &dyn Embedder,
        tokenizer: &TextTokenizer,
        seq: SeqLen,
        batch_size: usize,
    ) -> Result<Vec<f32>, String> {
        let batch_size = batch_size.max(1);
        let k = self.sentences.len();
        let encoder = tokenizer.for_seq_len(seq)?;
        let rows = k.div_ceil(batch_size) * batch_size;
        let mut cosines = Vec::with_capacity(rows);
        for start in (0..rows).step_by(batch_size) {
            let which: Vec<usize> = (start..start + batch_size).map(|j| j % k).collect();
            let texts: Vec<&str> = which.iter().map(|&j| self.sentences[j].as_str()).collect();
            let got = embedder.embed(&encoder.encode(&texts)?).map_err(|e| e.to_string())?;
            if got.dim != self.embeddings[0].len() {
                return Err(format!(
                    "embedding dimension {} differs from the reference's {}",
                    got.dim,
                    self.embeddings[0].len()
                ));
            }
            cosines.extend(which.iter().enumerate().map(|(r, &j)| cosine(got.row(r), &self.embeddings[j])));
        }
        Ok(cosines)
    }
}
