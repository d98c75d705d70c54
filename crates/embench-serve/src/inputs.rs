//! Requests' inputs into token ids, in the server, as TEI does: the model's own
//! tokenizer (natural length, cut at its `max_seq_length` only when the request asks
//! for truncation), or token ids sent as they are.

use embench_core::config::SeqLen;
use embench_core::embedder::Padding;
use embench_core::tokenize::{BatchTokenizer, TextTokenizer};
use embench_core::TokenizedBatch;

/// Why a request's inputs cannot be embedded (each a 4xx answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// No inputs at all.
    Empty,
    /// Input `index` is an empty string or an empty id list.
    EmptyInput(usize),
    /// Input `index` has more than `max` tokens and the request did not ask for truncation.
    TooLong {
        /// Which input.
        index: usize,
        /// The model's limit.
        max: usize,
    },
    /// Input `index` holds an id outside the vocabulary.
    BadId {
        /// Which input.
        index: usize,
        /// The id.
        id: u32,
        /// Ids must be below it.
        vocab: usize,
    },
    /// The tokenizer failed.
    Tokenizer(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Empty => write!(f, "no inputs: send at least one text"),
            InputError::EmptyInput(i) => write!(f, "input {i} is empty"),
            InputError::TooLong { index, max } => write!(
                f,
                "input {index} has more than the model's {max} tokens (fix: shorten it, or ask for truncation: TEI's \"truncate\": true)"
            ),
            InputError::BadId { index, id, vocab } => {
                write!(f, "input {index} has token id {id}, outside the vocabulary of {vocab} ids")
            }
            InputError::Tokenizer(e) => write!(f, "the tokenizer failed: {e}"),
        }
    }
}

/// The server's tokenizer.
pub enum ServerTokenizer {
    /// The model's `tokenizer.json`.
    Model {
        /// Set to natural lengths, cut at `max_len`.
        batch: Box<BatchTokenizer>,
        /// The model's `max_seq_length`.
        max_len: usize,
        /// Ids must be below it.
        vocab: usize,
        /// How the model pads.
        padding: Padding,
    },
    /// A model without a tokenizer (the mock): one id per whitespace-separated word.
    Words {
        /// Words kept per input.
        max_len: usize,
    },
}

impl ServerTokenizer {
    /// The model's tokenizer, capped at `max_len` tokens.
    ///
    /// Errors: the tokenizer cannot be set to natural lengths.
    pub fn model(t: &TextTokenizer) -> Result<Self, String> {
        Ok(ServerTokenizer::Model {
            batch: Box::new(t.for_seq_len(SeqLen::Natural)?),
            max_len: t.max_len(),
            vocab: t.vocab_size(),
            padding: t.padding(),
        })
    }

    /// `texts` as one batch and its real tokens; an input over the limit is cut when
    /// `truncate`, else refused.
    pub fn texts(&self, texts: &[&str], truncate: bool) -> Result<(TokenizedBatch, u64), InputError> {
        if texts.is_empty() {
            return Err(InputError::Empty);
        }
        if let Some(i) = texts.iter().position(|t| t.is_empty()) {
            return Err(InputError::EmptyInput(i));
        }
        let (batch, cut) = match self {
            ServerTokenizer::Model { batch, max_len, .. } => {
                let (b, cut) = batch.encode_flagged(texts).map_err(InputError::Tokenizer)?;
                (b, cut.map(|index| InputError::TooLong { index, max: *max_len }))
            }
            ServerTokenizer::Words { max_len } => {
                let rows: Vec<Vec<u32>> = texts.iter().map(|t| t.split_whitespace().map(word_id).collect()).collect();
                let cut = rows.iter().position(|r| r.len() > *max_len);
                let rows: Vec<Vec<u32>> = rows.into_iter().map(|r| r.into_iter().take(*max_len).collect()).collect();
                let mut b = pad(&rows, Padding::default());
                b.texts = texts.iter().map(|&t| std::sync::Arc::from(t)).collect();
                (b, cut.map(|index| InputError::TooLong { index, max: *max_len }))
            }
        };
        match cut {
            Some(e) if !truncate => Err(e),
            _ => {
                let tokens = batch.real_tokens() as u64;
                Ok((batch, tokens))
            }
        }
    }

    /// Inputs given as token ids, padded into one batch as the model pads.
    pub fn ids(&self, rows: &[Vec<u32>]) -> Result<(TokenizedBatch, u64), InputError> {
        if rows.is_empty() {
            return Err(InputError::Empty);
        }
        if let Some(i) = rows.iter().position(Vec::is_empty) {
            return Err(InputError::EmptyInput(i));
        }
        let (max_len, vocab, padding) = match self {
            ServerTokenizer::Model { max_len, vocab, padding, .. } => (*max_len, Some(*vocab), *padding),
            ServerTokenizer::Words { max_len } => (*max_len, None, Padding::default()),
        };
        if let Some(index) = rows.iter().position(|r| r.len() > max_len) {
            return Err(InputError::TooLong { index, max: max_len });
        }
        if let Some(vocab) = vocab {
            for (index, r) in rows.iter().enumerate() {
                if let Some(&id) = r.iter().find(|&&id| id as usize >= vocab) {
                    return Err(InputError::BadId { index, id, vocab });
                }
            }
        }
        let batch = pad(rows, padding);
        let tokens = batch.real_tokens() as u64;
        Ok((batch, tokens))
    }
}

/// A word's id for a model without a tokenizer: FNV-1a, folded into 1000..21000.
fn word_id(word: &str) -> u32 {
    let h = word.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    1000 + h % 20_000
}

/// `rows` padded to the longest on `padding`'s side with its id.
fn pad(rows: &[Vec<u32>], padding: Padding) -> TokenizedBatch {
    let seq_len = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut b = TokenizedBatch { batch_size: rows.len(), seq_len, ..Default::default() };
    for r in rows {
        let fill = seq_len - r.len();
        let ids = r.iter().map(|&id| i64::from(id));
        let (pads, mask_pads) = (std::iter::repeat_n(padding.id, fill), std::iter::repeat_n(0, fill));
        let ones = std::iter::repeat_n(1, r.len());
        if padding.left {
            b.input_ids.extend(pads.chain(ids));
            b.attention_mask.extend(mask_pads.chain(ones));
        } else {
            b.input_ids.extend(ids.chain(pads));
            b.attention_mask.extend(ones.chain(mask_pads));
        }
    }
    b.token_type_ids = vec![0; rows.len() * seq_len];
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_count_as_tokens_and_long_inputs_are_cut_only_when_asked() {
        let t = ServerTokenizer::Words { max_len: 3 };
        let (b, tokens) = t.texts(&["a b", "c"], false).unwrap();
        assert_eq!((b.batch_size, b.seq_len, tokens), (2, 2, 3));
        assert_eq!(b.attention_mask, [1, 1, 1, 0]);
        assert_eq!(t.texts(&["a b c d"], false).unwrap_err(), InputError::TooLong { index: 0, max: 3 });
        assert_eq!(t.texts(&["a b c d"], true).unwrap().1, 3);
        assert_eq!(t.texts(&[], false).unwrap_err(), InputError::Empty);
        assert_eq!(t.texts(&["a", ""], false).unwrap_err(), InputError::EmptyInput(1));
    }

    #[test]
    fn ids_are_padded_on_the_models_side() {
        let rows = [vec![5, 6, 7], vec![8]];
        let b = pad(&rows, Padding { left: true, id: 9 });
        assert_eq!(b.input_ids, [5, 6, 7, 9, 9, 8]);
        assert_eq!(b.attention_mask, [1, 1, 1, 0, 0, 1]);
        let t = ServerTokenizer::Words { max_len: 2 };
        assert_eq!(t.ids(&[vec![1, 2, 3]]).unwrap_err(), InputError::TooLong { index: 0, max: 2 });
        assert_eq!(t.ids(&[vec![]]).unwrap_err(), InputError::EmptyInput(0));
    }
}
