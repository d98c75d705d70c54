//! Tokenization to exactly the sequence length a scenario asks for.
//!
//! A model's `tokenizer.json` often carries its own padding (all-MiniLM-L6-v2's
//! pads to a fixed 128): we override padding and truncation so that
//! `SeqLen::Tokens(n)` yields exactly `n` tokens per input and `SeqLen::Natural`
//! pads each batch to its longest input.

use std::path::Path;

use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::config::SeqLen;
use crate::embedder::TokenizedBatch;

/// A model's tokenizer.
#[derive(Clone)]
pub struct TextTokenizer {
    plain: Tokenizer,
    max_len: usize,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`; `max_len` caps natural-length inputs.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, String> {
        let mut plain =
            Tokenizer::from_file(path).map_err(|e| format!("{}: cannot load tokenizer: {e}", path.display()))?;
        plain.with_padding(None);
        plain.with_truncation(None).map_err(|e| e.to_string())?;
        Ok(Self { plain, max_len })
    }

    /// Tokens in `text`, special tokens included, without padding or truncation.
    pub fn count_tokens(&self, text: &str) -> Result<usize, String> {
        self.plain.encode(text, true).map(|e| e.len()).map_err(|e| e.to_string())
    }

    /// A tokenizer configured for `seq`; build it once per cell, not per request.
    pub fn for_seq_len(&self, seq: SeqLen) -> Result<BatchTokenizer, String> {
        let mut t = self.plain.clone();
        let pad = self.pad_params();
        let (strategy, max) = match seq {
            SeqLen::Tokens(n) => (PaddingStrategy::Fixed(n), n),
            SeqLen::Natural => (PaddingStrategy::BatchLongest, self.max_len),
        };
        t.with_padding(Some(PaddingParams { strategy, ..pad }));
        t.with_truncation(Some(TruncationParams { max_length: max, ..Default::default() }))
            .map_err(|e| e.to_string())?;
        Ok(BatchTokenizer { inner: t })
    }

    /// Pad id and token as the tokenizer file declares them (`[PAD]`/0 when it does not).
    fn pad_params(&self) -> PaddingParams {
        let mut params = PaddingParams::default();
        if let Some(id) = self.plain.token_to_id("[PAD]") {
            params.pad_id = id;
            params.pad_token = "[PAD]".into();
        } else if let Some(id) = self.plain.token_to_id("<pad>") {
            params.pad_id = id;
            params.pad_token = "<pad>".into();
        }
        params
    }
}

/// A tokenizer set to one sequence length.
pub struct BatchTokenizer {
    inner: Tokenizer,
}

impl BatchTokenizer {
    /// Tokenizes `texts` into one padded batch.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenizedBatch, String> {
        let encodings = self.inner.encode_batch(texts.to_vec(), true).map_err(|e| e.to_string())?;
        let seq_len = encodings.first().map_or(0, |e| e.len());
        let batch_size = encodings.len();
        let mut batch = TokenizedBatch {
            batch_size,
            seq_len,
            input_ids: Vec::with_capacity(batch_size * seq_len),
            attention_mask: Vec::with_capacity(batch_size * seq_len),
            token_type_ids: Vec::with_capacity(batch_size * seq_len),
        };
        for e in &encodings {
            debug_assert_eq!(e.len(), seq_len);
            batch.input_ids.extend(e.get_ids().iter().map(|&x| x as i64));
            batch.attention_mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
            batch.token_type_ids.extend(e.get_type_ids().iter().map(|&x| x as i64));
        }
        Ok(batch)
    }
}
