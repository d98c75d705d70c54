//! Tokenization to exactly the sequence length a scenario asks for.
//!
//! A model's `tokenizer.json` often carries its own padding (all-MiniLM-L6-v2's
//! pads to a fixed 128): we override padding and truncation so that
//! `SeqLen::Tokens(n)` yields exactly `n` tokens per input and `SeqLen::Natural`
//! pads each batch to its longest input.
//!
//! The padding side and pad token follow the model, as transformers' tokenizer
//! does: `tokenizer_config.json`'s `padding_side` (Qwen3-Embedding pads left) and
//! `pad_token` (Qwen3's is `<|endoftext|>`), so the batches a backend runs are
//! the ones sentence-transformers builds for the reference.

use std::path::Path;
use std::sync::Arc;

use tokenizers::{PaddingDirection, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::config::SeqLen;
use crate::embedder::{Padding, TokenizedBatch};

/// A model's tokenizer.
#[derive(Clone)]
pub struct TextTokenizer {
    plain: Tokenizer,
    max_len: usize,
    /// Every batch padded to exactly this many tokens, whatever its texts (SigLIP's
    /// text tower: `padding="max_length"` to its 64 positions, as its processor does).
    fixed_len: Option<usize>,
    pad: PaddingParams,
    /// Put before every text (sentence-transformers' `prompt + text`).
    prompt: Option<String>,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, with the padding side and pad token of the
    /// `tokenizer_config.json` beside it (when there is one); `max_len` caps
    /// natural-length inputs.
    ///
    /// Errors: a file that cannot be read or parsed, a `padding_side` other than
    /// `left`/`right`, or a `pad_token` the vocabulary does not have, each naming the file.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, String> {
        let mut plain =
            Tokenizer::from_file(path).map_err(|e| format!("{}: cannot load tokenizer: {e}", path.display()))?;
        let own = plain.get_padding().cloned();
        plain.with_padding(None);
        plain.with_truncation(None).map_err(|e| e.to_string())?;
        let pad = pad_params(&plain, own, &path.with_file_name("tokenizer_config.json"))?;
        let fixed_len = fixed_length(&path.with_file_name("config.json"))?;
        Ok(Self { plain, max_len, pad, prompt: None, fixed_len })
    }

    /// This tokenizer putting `prompt` before every text, as sentence-transformers'
    /// `encode(..., prompt=…)` does (plain string concatenation): the prompt's tokens
    /// count in the sequence length, and truncation cuts the text after it.
    pub fn with_prompt(&self, prompt: Option<&str>) -> Self {
        Self { prompt: prompt.filter(|p| !p.is_empty()).map(str::to_string), ..self.clone() }
    }

    /// Tokens of the prompt alone, without special tokens (0 without a prompt).
    pub fn prompt_tokens(&self) -> Result<usize, String> {
        match &self.prompt {
            None => Ok(0),
            Some(p) => self.plain.encode(p.as_str(), false).map(|e| e.len()).map_err(|e| e.to_string()),
        }
    }

    /// Tokens a natural-length input is cut to (the model's `max_seq_length`).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Ids in the vocabulary, added tokens included (valid ids are below it).
    pub fn vocab_size(&self) -> usize {
        self.plain.get_vocab_size(true)
    }

    /// How this tokenizer pads: side and pad id (for batches joined after tokenizing).
    pub fn padding(&self) -> Padding {
        Padding { left: matches!(self.pad.direction, PaddingDirection::Left), id: i64::from(self.pad.pad_id) }
    }

    /// The side padding goes on.
    pub fn padding_side(&self) -> &'static str {
        match self.pad.direction {
            PaddingDirection::Left => "left",
            PaddingDirection::Right => "right",
        }
    }

    /// Tokens in `text` (after the prompt, if any), special tokens included, without padding or truncation.
    pub fn count_tokens(&self, text: &str) -> Result<usize, String> {
        let text = match &self.prompt {
            Some(p) => format!("{p}{text}"),
            None => text.to_string(),
        };
        self.plain.encode(text, true).map(|e| e.len()).map_err(|e| e.to_string())
    }

    /// A tokenizer configured for `seq`; build it once per cell, not per request.
    pub fn for_seq_len(&self, seq: SeqLen) -> Result<BatchTokenizer, String> {
        let mut t = self.plain.clone();
        let pad = self.pad.clone();
        let (strategy, max) = match seq {
            SeqLen::Tokens(n) => (PaddingStrategy::Fixed(n), n),
            SeqLen::Natural => (PaddingStrategy::BatchLongest, self.max_len),
        };
        // SigLIP: truncated at the cell's length, padded to the model's fixed length.
        let (strategy, max) = match self.fixed_len {
            Some(fixed) => (PaddingStrategy::Fixed(fixed), max.min(fixed)),
            None => (strategy, max),
        };
        t.with_padding(Some(PaddingParams { strategy, ..pad }));
        t.with_truncation(Some(TruncationParams { max_length: max, ..Default::default() }))
            .map_err(|e| e.to_string())?;
        Ok(BatchTokenizer { inner: t, prompt: self.prompt.clone() })
    }
}

/// Pad token, id and side: `tokenizer_config.json`'s `pad_token` and `padding_side`
/// when it names them, else `tokenizer.json`'s own padding, else `[PAD]` or `<pad>`
/// (id 0 when the vocabulary has neither), on the right.
/// SigLIP's fixed text length: `text_config.max_position_embeddings` (64) of a
/// `config.json` whose `model_type` is `siglip`; None for every other model.
fn fixed_length(config: &Path) -> Result<Option<usize>, String> {
    let Some(json) = crate::model_files::read_json(config)? else { return Ok(None) };
    if json.get("model_type").and_then(|t| t.as_str()) != Some("siglip") {
        return Ok(None);
    }
    let n = json.pointer("/text_config/max_position_embeddings").and_then(|n| n.as_u64()).unwrap_or(64);
    Ok(Some(n as usize))
}

fn pad_params(plain: &Tokenizer, own: Option<PaddingParams>, config: &Path) -> Result<PaddingParams, String> {
    let mut params = own.unwrap_or_default();
    if plain.token_to_id(&params.pad_token).is_none() {
        for token in ["[PAD]", "<pad>"] {
            if let Some(id) = plain.token_to_id(token) {
                (params.pad_id, params.pad_token) = (id, token.into());
                break;
            }
        }
    }
    let Some(json) = crate::model_files::read_json(config)? else {
        return Ok(params);
    };
    // `pad_token` is a string, or an AddedToken object with a `content`.
    let token = json.get("pad_token").and_then(|t| t.as_str().or_else(|| t.get("content").and_then(|c| c.as_str())));
    if let Some(token) = token {
        params.pad_id = plain.token_to_id(token).ok_or_else(|| {
            format!(
                "{}: pad_token '{token}' is not in the vocabulary of tokenizer.json (fix: name a token the tokenizer has)",
                config.display()
            )
        })?;
        params.pad_token = token.into();
    }
    params.direction = match json.get("padding_side").and_then(|s| s.as_str()) {
        None => params.direction,
        Some("right") => PaddingDirection::Right,
        Some("left") => PaddingDirection::Left,
        Some(other) => {
            return Err(format!(
                "{}: padding_side '{other}' is neither 'left' nor 'right' (fix: set one of them)",
                config.display()
            ))
        }
    };
    Ok(params)
}

impl BatchTokenizer {
    /// Shortens each of `texts` (as [`BatchTokenizer::encode`] cut them, prompt
    /// included) from its end until this tokenizer takes it whole: a BPE or Unigram
    /// tokenizer can split a text cut at a token's end into more tokens, and a server
    /// tokenizing it again must not get more than the batch's rows. At most 16 tries per
    /// text; one still too long stays, and the server then truncates or refuses it.
    ///
    /// Errors: the tokenizer failing.
    pub fn fit_texts(&self, texts: &mut [Arc<str>]) -> Result<(), String> {
        for text in texts.iter_mut() {
            let mut s: &str = text;
            for _ in 0..16 {
                let e = self.inner.encode(s, true).map_err(|e| e.to_string())?;
                if e.get_overflowing().is_empty() {
                    break;
                }
                let cut = kept_text(s, &e);
                s = match cut.len() < s.len() {
                    true => cut,
                    // Cut at the last character boundary before the end.
                    false => &s[..s.char_indices().last().map_or(0, |(i, _)| i)],
                };
            }
            if s.len() < text.len() {
                *text = Arc::from(s);
            }
        }
        Ok(())
    }
}

/// A tokenizer set to one sequence length.
pub struct BatchTokenizer {
    inner: Tokenizer,
    prompt: Option<String>,
}

impl BatchTokenizer {
    /// Tokenizes `texts` (each after the prompt, if any) into one padded batch; its
    /// `texts` are the inputs as tokenized (prompt included), each cut after its last
    /// kept token where truncation cut it, so that they tokenize to the batch's rows again.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenizedBatch, String> {
        self.encode_flagged(texts).map(|(batch, _)| batch)
    }

    /// [`BatchTokenizer::encode`], and the index of the first input that truncation
    /// cut (None: every input fit), for a server that refuses long inputs.
    pub fn encode_flagged(&self, texts: &[&str]) -> Result<(TokenizedBatch, Option<usize>), String> {
        let prompted: Vec<String>;
        let full: Vec<&str> = match &self.prompt {
            None => texts.to_vec(),
            Some(p) => {
                prompted = texts.iter().map(|t| format!("{p}{t}")).collect();
                prompted.iter().map(String::as_str).collect()
            }
        };
        let encodings = self.inner.encode_batch(full.clone(), true).map_err(|e| e.to_string())?;
        let cut = encodings.iter().position(|e| !e.get_overflowing().is_empty());
        let texts = full.into_iter().zip(&encodings).map(|(text, e)| Arc::from(kept_text(text, e))).collect();
        let seq_len = encodings.first().map_or(0, |e| e.len());
        let batch_size = encodings.len();
        let mut batch = TokenizedBatch {
            batch_size,
            seq_len,
            input_ids: Vec::with_capacity(batch_size * seq_len),
            attention_mask: Vec::with_capacity(batch_size * seq_len),
            token_type_ids: Vec::with_capacity(batch_size * seq_len),
            texts,
        };
        for e in &encodings {
            debug_assert_eq!(e.len(), seq_len);
            batch.input_ids.extend(e.get_ids().iter().map(|&x| x as i64));
            batch.attention_mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
            batch.token_type_ids.extend(e.get_type_ids().iter().map(|&x| x as i64));
        }
        Ok((batch, cut))
    }
}

/// `text` up to the end of its last kept token when truncation cut it (byte offsets,
/// as `encode_batch` gives them, rounded down to a character), else all of it.
fn kept_text<'t>(text: &'t str, e: &tokenizers::Encoding) -> &'t str {
    if e.get_overflowing().is_empty() {
        return text;
    }
    let mut end = e
        .get_offsets()
        .iter()
        .zip(e.get_special_tokens_mask())
        .filter(|(_, &special)| special == 0)
        .map(|(&(_, end), _)| end)
        .max()
        .unwrap_or(0)
        .min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word-level tokenizer over "a b c" with `<|endoftext|>` (id 0) appended to each
    /// input, as Qwen3's, plus `tokenizer_config.json` holding `config` when given.
    fn tokenizer(config: Option<&str>) -> (tempfile::TempDir, Result<TextTokenizer, String>) {
        let dir = tempfile::tempdir().unwrap();
        let json = r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}},
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"<|endoftext|>": 0, "a": 1, "b": 2, "c": 3, "<unk>": 4}, "unk_token": "<unk>"}}"#;
        std::fs::write(dir.path().join("tokenizer.json"), json).unwrap();
        if let Some(config) = config {
            std::fs::write(dir.path().join("tokenizer_config.json"), config).unwrap();
        }
        let t = TextTokenizer::from_file(&dir.path().join("tokenizer.json"), 16);
        (dir, t)
    }

    #[test]
    fn padding_side_and_pad_token_follow_tokenizer_config() {
        let (_d, t) = tokenizer(Some(r#"{"pad_token": "<|endoftext|>", "padding_side": "left"}"#));
        let t = t.unwrap();
        assert_eq!(t.padding_side(), "left");
        let batch = t.for_seq_len(SeqLen::Tokens(4)).unwrap().encode(&["a b c", "b"]).unwrap();
        assert_eq!(batch.input_ids, vec![1, 2, 3, 0, 0, 0, 2, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 0, 0, 1, 1]);
        // Without the file: right padding.
        let (_d, plain) = tokenizer(None);
        let batch = plain.unwrap().for_seq_len(SeqLen::Natural).unwrap().encode(&["a b c", "b"]).unwrap();
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 1, 0, 0]);
    }

    #[test]
    fn a_prompt_goes_before_every_text_and_counts_in_the_length() {
        let (_d, t) = tokenizer(None);
        let t = t.unwrap().with_prompt(Some("c c "));
        assert_eq!((t.prompt_tokens(), t.count_tokens("a")), (Ok(2), Ok(4)));
        let batch = t.for_seq_len(SeqLen::Tokens(4)).unwrap().encode(&["a b", "b"]).unwrap();
        // Truncation keeps the prompt and the appended <|endoftext|> (the special
        // tokens' room is kept, as transformers does) and cuts the text.
        assert_eq!(batch.input_ids, vec![3, 3, 1, 0, 3, 3, 2, 0]);
    }

    #[test]
    fn texts_are_cut_where_truncation_cut_them_and_tokenize_to_the_rows_again() {
        let (_d, t) = tokenizer(None);
        let t = t.unwrap().with_prompt(Some("c "));
        let bt = t.for_seq_len(SeqLen::Tokens(4)).unwrap();
        let batch = bt.encode(&["a b a b c", "b"]).unwrap();
        assert_eq!(batch.texts, [Arc::from("c a b"), Arc::from("c b")]);
        let again = t.with_prompt(None).for_seq_len(SeqLen::Tokens(4)).unwrap();
        let mut texts = batch.texts.clone();
        again.fit_texts(&mut texts).unwrap();
        assert_eq!(texts, batch.texts, "they fit already");
        let again = again.encode(&batch.texts.iter().map(|t| &**t).collect::<Vec<_>>()).unwrap();
        assert_eq!(again.input_ids, batch.input_ids);
    }

    #[test]
    fn a_bad_padding_setting_names_the_file_and_field() {
        for (config, field) in [
            (r#"{"padding_side": "middle"}"#, "padding_side 'middle'"),
            (r#"{"pad_token": {"content": "<pad>"}}"#, "pad_token '<pad>'"),
        ] {
            let (_d, t) = tokenizer(Some(config));
            let e = t.err().expect(config);
            assert!(e.contains("tokenizer_config.json") && e.contains(field) && e.contains("fix:"), "{e}");
        }
    }
}
