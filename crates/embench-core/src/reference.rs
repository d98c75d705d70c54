//! Reference embeddings (computed once with sentence-transformers) and the
//! comparison every backend's parity test, and later the correctness gate, uses.

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
}

impl ReferenceSet {
    /// Reads a fixture written by `scripts/make_reference_embeddings.py`.
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
        let texts: Vec<&str> = self.sentences.iter().map(String::as_str).collect();
        let batch = tokenizer.for_seq_len(SeqLen::Natural)?.encode(&texts)?;
        let got = embedder.embed(&batch).map_err(|e| e.to_string())?;
        if got.dim != self.embeddings[0].len() {
            return Err(format!(
                "embedding dimension {} differs from the reference's {}",
                got.dim,
                self.embeddings[0].len()
            ));
        }
        Ok(self.embeddings.iter().enumerate().map(|(i, r)| cosine(got.row(i), r)).collect())
    }
}
