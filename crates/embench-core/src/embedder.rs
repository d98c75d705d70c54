//! The [`Embedder`] trait and the types that cross it.

use serde::{Deserialize, Serialize};

/// A batch of token ids, already padded/truncated, row-major `[batch, seq_len]`.
///
/// Ids are `i64` because that is what ONNX graphs take; backends that want
/// another integer type convert once per call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenizedBatch {
    /// Number of sequences.
    pub batch_size: usize,
    /// Tokens per sequence after padding.
    pub seq_len: usize,
    /// Token ids, `batch_size * seq_len`.
    pub input_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids (all zero for single-sentence inputs).
    pub token_type_ids: Vec<i64>,
    /// The texts the rows are (prompt included, cut where truncation cut them), one
    /// per row: what a backend that sends text rather than ids (`http`) sends. For
    /// synthetic ids (a model without a tokenizer) the dataset's texts as they are;
    /// empty where no text is known. Shared (`Arc`), so joining batches copies no text.
    pub texts: Vec<std::sync::Arc<str>>,
}

impl TokenizedBatch {
    /// Real (non-padding) tokens in the batch.
    pub fn real_tokens(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m != 0).count()
    }

    /// The rows of `parts`, in order, in one batch padded to the longest part's
    /// length on the model's side with its pad id (mask and segment 0), as its
    /// tokenizer pads ([`crate::tokenize::TextTokenizer::padding`]).
    pub fn concat(parts: &[&TokenizedBatch], pad: Padding) -> TokenizedBatch {
        let seq_len = parts.iter().map(|p| p.seq_len).max().unwrap_or(0);
        let rows: usize = parts.iter().map(|p| p.batch_size).sum();
        let mut batch = TokenizedBatch {
            batch_size: rows,
            seq_len,
            input_ids: Vec::with_capacity(rows * seq_len),
            attention_mask: Vec::with_capacity(rows * seq_len),
            token_type_ids: Vec::with_capacity(rows * seq_len),
            // Texts only when every part has its own.
            texts: match parts.iter().all(|p| p.texts.len() == p.batch_size) {
                true => parts.iter().flat_map(|p| p.texts.iter().cloned()).collect(),
                false => Vec::new(),
            },
        };
        for p in parts {
            let extra = seq_len - p.seq_len;
            for r in 0..p.batch_size {
                let row = r * p.seq_len..(r + 1) * p.seq_len;
                for (out, src, fill) in [
                    (&mut batch.input_ids, &p.input_ids, pad.id),
                    (&mut batch.attention_mask, &p.attention_mask, 0),
                    (&mut batch.token_type_ids, &p.token_type_ids, 0),
                ] {
                    let fills = std::iter::repeat_n(fill, extra);
                    if pad.left {
                        out.extend(fills.chain(src[row.clone()].iter().copied()));
                    } else {
                        out.extend(src[row.clone()].iter().copied().chain(fills));
                    }
                }
            }
        }
        batch
    }
}

/// How a model's tokenizer pads a batch: which side, with which token id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Padding {
    /// Pad on the left (Qwen3-Embedding), else on the right.
    pub left: bool,
    /// The pad token's id.
    pub id: i64,
}

/// Pooled (and, when configured, L2-normalised) embeddings, row-major `[rows, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Number of vectors.
    pub rows: usize,
    /// Dimension of each vector.
    pub dim: usize,
    /// The values, `rows * dim`.
    pub data: Vec<f32>,
}

impl Embeddings {
    /// The `i`-th vector.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

pub use embench_schema::Precision;

/// What actually ran: recorded in every result so numbers can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Framework name, e.g. `candle`.
    pub framework: String,
    /// Framework library version, e.g. `0.11.1`.
    pub framework_version: String,
    /// Device that ran the model, e.g. `cpu` or `cuda:0 (NVIDIA H100)`.
    pub device: String,
    /// Precision the model computed in.
    pub precision: Precision,
    /// Intra-op threads the framework used.
    pub intra_op_threads: usize,
    /// Effective framework settings, read back from the framework where it can
    /// tell (providers, streams, hint, infer requests, ...).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
    /// Where what ran differs from what was asked (e.g. bf16 asked, f32 ran): shown as warnings.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The phase a backend error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reading files and building the model.
    Load,
    /// The first request and the unrecorded warm-up.
    Warmup,
    /// The measured requests.
    Inference,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Load => "load",
            Phase::Warmup => "warm-up",
            Phase::Inference => "inference",
        })
    }
}

/// An error raised by a backend, tagged with the framework and what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{framework} failed during {phase}: {message}")]
pub struct EmbedError {
    /// The framework that failed.
    pub framework: &'static str,
    /// What it was doing.
    pub phase: Phase,
    /// The framework's own message (and the fix, where we know it).
    pub message: String,
}

impl EmbedError {
    /// Builds an error for `framework` in `phase`.
    pub fn new(framework: &'static str, phase: Phase, message: impl Into<String>) -> Self {
        Self { framework, phase, message: message.into() }
    }
}

/// Tags a framework's error with the framework and phase it came from.
pub trait PhaseContext<T> {
    /// `Err(e)` becomes an [`EmbedError`] of `framework` in `phase`, with `e`'s message.
    fn in_phase(self, framework: &'static str, phase: Phase) -> Result<T, EmbedError>;
}

impl<T, E: std::fmt::Display> PhaseContext<T> for Result<T, E> {
    fn in_phase(self, framework: &'static str, phase: Phase) -> Result<T, EmbedError> {
        self.map_err(|e| EmbedError::new(framework, phase, e.to_string()))
    }
}

/// One request's input, by modality ([`crate::Modality`]).
#[derive(Debug, Clone, Copy)]
pub enum EmbedInput<'a> {
    /// Token ids, padded to one length.
    Text(&'a TokenizedBatch),
    /// Preprocessed images.
    Image(&'a PixelBatch),
}

/// A batch of preprocessed images: `[batch_size, 3, height, width]` f32, row-major,
/// already resized, cropped and normalised as the model's image processor does.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelBatch {
    /// Images.
    pub batch_size: usize,
    /// Rows per image, pixels.
    pub height: usize,
    /// Columns per image, pixels.
    pub width: usize,
    /// `batch_size * 3 * height * width` values.
    pub pixels: Vec<f32>,
}

impl PixelBatch {
    /// The images of `parts`, in order, in one batch (all of one size).
    ///
    /// Errors: parts of different image sizes.
    pub fn concat(parts: &[&PixelBatch]) -> Result<PixelBatch, String> {
        let first = parts.first().ok_or("no images to join")?;
        if let Some(p) = parts.iter().find(|p| (p.height, p.width) != (first.height, first.width)) {
            return Err(format!("cannot batch {}x{} with {}x{} images", first.width, first.height, p.width, p.height));
        }
        Ok(PixelBatch {
            batch_size: parts.iter().map(|p| p.batch_size).sum(),
            height: first.height,
            width: first.width,
            pixels: parts.iter().flat_map(|p| p.pixels.iter().copied()).collect(),
        })
    }
}

/// One request's input, owned: what a cell's requests cycle through.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestInput {
    /// Token ids.
    Text(TokenizedBatch),
    /// Preprocessed images.
    Image(PixelBatch),
}

impl RequestInput {
    /// The borrowed form a backend takes.
    pub fn as_input(&self) -> EmbedInput<'_> {
        match self {
            RequestInput::Text(b) => EmbedInput::Text(b),
            RequestInput::Image(b) => EmbedInput::Image(b),
        }
    }

    /// Texts or images in the request.
    pub fn batch_size(&self) -> usize {
        match self {
            RequestInput::Text(b) => b.batch_size,
            RequestInput::Image(b) => b.batch_size,
        }
    }

    /// The token ids, for text requests.
    pub fn text(&self) -> Option<&TokenizedBatch> {
        match self {
            RequestInput::Text(b) => Some(b),
            RequestInput::Image(_) => None,
        }
    }

    /// The requests of `parts` joined into one (dynamic batching): texts padded as
    /// the model pads ([`TokenizedBatch::concat`]), images stacked.
    ///
    /// Errors: parts of different modalities or image sizes.
    pub fn concat(parts: &[&RequestInput], pad: Padding) -> Result<RequestInput, String> {
        let texts: Vec<&TokenizedBatch> = parts.iter().filter_map(|p| p.text()).collect();
        if texts.len() == parts.len() {
            return Ok(RequestInput::Text(TokenizedBatch::concat(&texts, pad)));
        }
        let images: Vec<&PixelBatch> = parts
            .iter()
            .filter_map(|p| match p {
                RequestInput::Image(b) => Some(b),
                RequestInput::Text(_) => None,
            })
            .collect();
        if images.len() != parts.len() {
            return Err("cannot batch texts with images".into());
        }
        PixelBatch::concat(&images).map(RequestInput::Image)
    }
}

/// A loaded embedding model.
///
/// Implementations must be callable from several threads at once where the
/// framework allows it: the runner shares one instance between its clients, and
/// a lock around the whole model would measure the harness's queue rather than
/// the framework.
pub trait Embedder: Send + Sync {
    /// What is running: framework, version, device, precision, threads.
    fn info(&self) -> &BackendInfo;

    /// Embeds one batch of text: forward pass, pooling and (when configured) normalisation.
    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError>;

    /// Embeds one request's input of any modality. Text goes to [`Embedder::embed`];
    /// a backend that embeds images overrides this, the others refuse them.
    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        match input {
            EmbedInput::Text(batch) => self.embed(batch),
            EmbedInput::Image(_) => Err(EmbedError::new(
                "embench",
                Phase::Inference,
                format!("{} does not embed images", self.info().framework),
            )),
        }
    }

    /// The largest batch the backend accepts, if it has a limit.
    fn max_batch_size(&self) -> Option<usize> {
        None
    }

    /// A backend that calls a server (`http`): its wire counters since it was
    /// loaded (cumulative; the runner takes the measured phase's difference). None
    /// for backends that run the model themselves.
    fn transport(&self) -> Option<embench_schema::HttpFigures> {
        None
    }
}

#[cfg(test)]
mod concat_tests {
    use super::{Padding, TokenizedBatch};

    fn rows(ids: &[&[i64]]) -> TokenizedBatch {
        let seq_len = ids[0].len();
        TokenizedBatch {
            batch_size: ids.len(),
            seq_len,
            input_ids: ids.concat(),
            attention_mask: vec![1; ids.len() * seq_len],
            token_type_ids: vec![0; ids.len() * seq_len],
            texts: Vec::new(),
        }
    }

    #[test]
    fn concat_keeps_row_order_and_right_pads_to_the_longest() {
        let a = rows(&[&[1, 2], &[3, 4]]);
        let b = rows(&[&[5, 6, 7]]);
        let c = TokenizedBatch::concat(&[&a, &b], Padding::default());
        assert_eq!((c.batch_size, c.seq_len), (3, 3));
        assert_eq!(c.input_ids, [1, 2, 0, 3, 4, 0, 5, 6, 7]);
        assert_eq!(c.attention_mask, [1, 1, 0, 1, 1, 0, 1, 1, 1]);
        assert_eq!(c.real_tokens(), 7);
        assert_eq!(TokenizedBatch::concat(&[&a], Padding::default()), a);
        // A left-padding model's (Qwen3-Embedding's) side and pad id.
        let left = TokenizedBatch::concat(&[&a, &b], Padding { left: true, id: 9 });
        assert_eq!(left.input_ids, [9, 1, 2, 9, 3, 4, 5, 6, 7]);
        assert_eq!(left.attention_mask, [0, 1, 1, 0, 1, 1, 1, 1, 1]);
    }
}
