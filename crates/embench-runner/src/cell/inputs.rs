//! Request batches, tokenized before anything is timed.
//!
//! Latency covers the backend's work (forward pass, pooling, normalisation):
//! tokenization is the same Rust `tokenizers` call for every backend, so it is
//! done up front and its cost is reported separately (`tokenize_ms_per_request`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use embench_core::config::{BatchPoint, ResolvedCache, ResolvedModel, SeqLen};
use embench_core::dataset::TextSource;
use embench_core::embedder::Padding;
use embench_core::images::{EncodedImage, ImageProcessor, ImageSource, PreprocessedImages};
use embench_core::tokenize::TextTokenizer;
use embench_core::{EmbedError, Phase, PixelBatch, RequestInput, TokenizedBatch};

use crate::cell::repeats::{repeat_stream, RepeatStream};

/// Distinct texts prepared per cell (fewer when a cell has fewer requests).
pub const DISTINCT_TEXTS: usize = 1024;

/// Distinct images decoded and preprocessed per model (requests cycle through them).
pub const DISTINCT_IMAGES: usize = 64;

/// The batches one cell cycles through.
#[derive(Debug)]
pub struct PreparedInputs {
    /// Distinct request batches; request `i` uses `batches[i % len]`.
    pub batches: Vec<RequestInput>,
    /// Mean tokenization time of one batch, ms (None for synthetic token ids).
    pub tokenize_ms_per_request: Option<f64>,
    /// Mean real tokens per input.
    pub tokens_per_input_mean: f64,
    /// Tokens of the prompt before every text (None: no prompt).
    pub prompt_tokens: Option<usize>,
    /// How the model pads, for batches joined later (dynamic batching).
    pub padding: Padding,
    /// Image cells: where the images came from and what preprocessing cost.
    pub images: Option<ImageInputs>,
    /// `include_preprocessing`: the encoded images each request decodes and
    /// preprocesses itself (request `i` uses batch `i % len`, as `batches`).
    pub encoded: Option<EncodedRequests>,
}

/// The encoded images of an image cell whose preprocessing is measured inside each request.
#[derive(Debug)]
pub struct EncodedRequests {
    /// The images of each request.
    pub batches: Vec<Vec<Arc<EncodedImage>>>,
    /// The model's preprocessing.
    pub processor: Arc<ImageProcessor>,
}

impl EncodedRequests {
    /// Request `i`'s images, decoded and preprocessed now (inside the measured request).
    ///
    /// Errors: an image that cannot be decoded (checked before the cell, so only a
    /// changed file), as the request's error.
    pub fn pixels(&self, i: u64) -> Result<PixelBatch, EmbedError> {
        let _span = tracing::trace_span!("preprocess").entered();
        let batch = &self.batches[(i % self.batches.len() as u64) as usize];
        let refs: Vec<&EncodedImage> = batch.iter().map(|b| b.as_ref()).collect();
        PreprocessedImages::batch_of(&refs, &self.processor).map_err(|e| EmbedError::new("inputs", Phase::Inference, e))
    }
}

/// What an image cell's inputs are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInputs {
    /// `synthetic 640x480 jpeg (seed 42)` or the folder.
    pub source: String,
    /// Decoding and preprocessing are inside each measured request.
    pub include_preprocessing: bool,
    /// The model's input size, pixels.
    pub height: usize,
    /// Pixels.
    pub width: usize,
    /// Mean time to decode and preprocess one image (not part of the latency), ms.
    pub preprocess_ms_per_image: f64,
    /// Images that could not be decoded and were left out, with why.
    pub skipped: Vec<String>,
    /// The processor class and filter (`CLIPImageProcessor, bicubic`).
    pub processor: String,
}

impl PreparedInputs {
    /// No inputs: for a cell that fails before it could use any.
    pub const fn empty() -> Self {
        Self {
            batches: Vec::new(),
            tokenize_ms_per_request: None,
            tokens_per_input_mean: 0.0,
            prompt_tokens: None,
            padding: Padding { left: false, id: 0 },
            images: None,
            encoded: None,
        }
    }
}

/// A model's images: preprocessed once, with what they came from.
struct ModelImages {
    preprocessed: PreprocessedImages,
    /// The encoded images that decoded, in the order of `preprocessed.rows`.
    encoded: Vec<Arc<EncodedImage>>,
    processor: Arc<ImageProcessor>,
    /// `CLIPImageProcessor, bicubic`.
    describe: String,
}

/// A tokenizer's key: model key and prompt name.
type TokenizerKey = (String, Option<String>);

/// Prepared inputs' key: the tokenizer's, sequence length, batch size, batches.
type InputsKey = (TokenizerKey, SeqLen, usize, usize);

/// Prepares (and caches) inputs per model × prompt × sequence length × batch size.
pub struct InputFactory {
    source: TextSource,
    image_source: ImageSource,
    /// Preprocessed images by model key, with the encoded images they came from and the processor.
    images: HashMap<String, Arc<ModelImages>>,
    /// By model key and prompt name.
    tokenizers: HashMap<TokenizerKey, Option<TextTokenizer>>,
    cache: HashMap<InputsKey, Arc<PreparedInputs>>,
}

impl InputFactory {
    /// A factory drawing texts from `source` and images from `image_source`.
    pub fn new(source: TextSource, image_source: ImageSource) -> Self {
        Self { source, image_source, images: HashMap::new(), tokenizers: HashMap::new(), cache: HashMap::new() }
    }

    /// Inputs for `num_requests` requests of `batch_size` images each: [`DISTINCT_IMAGES`]
    /// images from the source, decoded and preprocessed as the model's
    /// `preprocessor_config.json` says (once per model, timed), cycled into batches.
    ///
    /// Errors: a model without a folder or processor config, or no usable image.
    /// With `include_preprocessing`, the requests also carry the encoded images, which
    /// each request decodes and preprocesses again inside its measured time.
    pub fn prepare_images(
        &mut self,
        model: &ResolvedModel,
        batch_size: usize,
        num_requests: usize,
        include_preprocessing: bool,
    ) -> Result<Arc<PreparedInputs>, String> {
        if !self.images.contains_key(&model.key) {
            // A model without a folder (mock runs) gets a plain square resize, as it gets synthetic token ids.
            let processor = match &model.folder {
                Some(folder) => ImageProcessor::from_file(&folder.preprocessor_config())?,
                None => ImageProcessor::plain(model.config.image_size.unwrap_or(224) as u32),
            };
            let encoded = self.image_source.images(DISTINCT_IMAGES)?;
            let preprocessed = PreprocessedImages::new(&encoded, &processor)
                .map_err(|e| format!("{}: {e}", self.image_source.describe()))?;
            let describe = format!("{}, {}", processor.class, processor.resample_name());
            let mut encoded: Vec<Option<EncodedImage>> = encoded.into_iter().map(Some).collect();
            let encoded = preprocessed.kept.iter().filter_map(|&k| encoded[k].take().map(Arc::new)).collect();
            let entry = ModelImages { preprocessed, encoded, processor: Arc::new(processor), describe };
            self.images.insert(model.key.clone(), Arc::new(entry));
        }
        let entry = self.images[&model.key].clone();
        let images = &entry.preprocessed;
        let n_batches = num_requests.clamp(1, (DISTINCT_IMAGES / batch_size).max(1));
        let batches = (0..n_batches).map(|b| RequestInput::Image(images.batch(b * batch_size, batch_size))).collect();
        let encoded = include_preprocessing.then(|| EncodedRequests {
            batches: (0..n_batches)
                .map(|b| {
                    (0..batch_size).map(|k| entry.encoded[(b * batch_size + k) % entry.encoded.len()].clone()).collect()
                })
                .collect(),
            processor: entry.processor.clone(),
        });
        Ok(Arc::new(PreparedInputs {
            batches,
            tokenize_ms_per_request: None,
            tokens_per_input_mean: 0.0,
            prompt_tokens: None,
            padding: Padding::default(),
            images: Some(ImageInputs {
                source: self.image_source.describe(),
                include_preprocessing,
                height: images.height,
                width: images.width,
                preprocess_ms_per_image: images.ms_per_image,
                skipped: images.skipped.clone(),
                processor: entry.describe.clone(),
            }),
            encoded,
        }))
    }

    /// Inputs for `num_requests` requests of `batch_size` texts at `seq`, each text
    /// after the model's prompt named `prompt` (None: no prompt).
    ///
    /// Models with a tokenizer get real texts; a model without a local folder
    /// (mock-only runs) gets synthetic token ids of the right shape.
    pub fn prepare(
        &mut self,
        model: &ResolvedModel,
        prompt: Option<&str>,
        seq: SeqLen,
        batch_size: usize,
        num_requests: usize,
    ) -> Result<Arc<PreparedInputs>, String> {
        let n_batches = num_requests.clamp(1, (DISTINCT_TEXTS / batch_size).max(1));
        let key = ((model.key.clone(), prompt.map(str::to_string)), seq, batch_size, n_batches);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let key_t = self.load_tokenizer(model, prompt)?;
        let prepared = match &self.tokenizers[&key_t] {
            Some(t) => tokenized(&self.source, t, seq, batch_size, n_batches)?,
            None => synthetic(&self.source, seq, batch_size, n_batches)?,
        };
        let prepared = Arc::new(prepared);
        self.cache.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The texts and request stream of a cache-scenario cell at repeat ratio `ratio`.
    pub fn prepare_cache(
        &mut self,
        model: &ResolvedModel,
        prompt: Option<&str>,
        seq: SeqLen,
        point: BatchPoint,
        ratio: f64,
        spec: &ResolvedCache,
    ) -> Result<CacheInputs, String> {
        let texts_per_phase = point.num_requests * point.batch_size;
        let key = self.load_tokenizer(model, prompt)?;
        CacheInputs::prepare(&self.source, self.tokenizers[&key].as_ref(), seq, texts_per_phase, ratio, spec)
    }

    /// Loads the model's tokenizer with its prompt named `prompt` (None when the model
    /// has no local tokenizer) and returns its key in `tokenizers`.
    ///
    /// Errors: an unreadable tokenizer, or a prompt the model does not have (validation refuses both first).
    fn load_tokenizer(&mut self, model: &ResolvedModel, prompt: Option<&str>) -> Result<TokenizerKey, String> {
        let key = (model.key.clone(), prompt.map(str::to_string));
        if !self.tokenizers.contains_key(&key) {
            let text = model.prompt_text(prompt)?;
            let loaded = match &model.folder {
                Some(f) if f.tokenizer_json().is_file() => Some(
                    TextTokenizer::from_file(&f.tokenizer_json(), model.config.max_seq_length.value)?.with_prompt(text),
                ),
                _ => None,
            };
            self.tokenizers.insert(key.clone(), loaded);
        }
        Ok(key)
    }
}

fn tokenized(
    source: &TextSource,
    t: &TextTokenizer,
    seq: SeqLen,
    batch_size: usize,
    n_batches: usize,
) -> Result<PreparedInputs, String> {
    let texts = source.texts(n_batches * batch_size, seq, Some(t))?;
    let bt = t.for_seq_len(seq)?;
    let start = Instant::now();
    let mut batches = texts
        .chunks(batch_size)
        .map(|chunk| bt.encode(&chunk.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()?;
    let tokenize_ms = start.elapsed().as_secs_f64() * 1e3 / n_batches as f64;
    // Texts a server will tokenize again (http): no longer than the rows (not timed).
    for b in &mut batches {
        bt.fit_texts(&mut b.texts)?;
    }
    let prompt_tokens = match t.prompt_tokens()? {
        0 => None,
        n => Some(n),
    };
    Ok(PreparedInputs {
        tokens_per_input_mean: mean_tokens(&batches),
        batches: batches.into_iter().map(RequestInput::Text).collect(),
        tokenize_ms_per_request: Some(tokenize_ms),
        prompt_tokens,
        padding: t.padding(),
        images: None,
        encoded: None,
    })
}

/// Token ids of the right shape for a model without a tokenizer; each row carries a
/// dataset text as it is (what a backend sending text sends: such cells are `natural`).
fn synthetic(source: &TextSource, seq: SeqLen, batch_size: usize, n_batches: usize) -> Result<PreparedInputs, String> {
    let mut texts = source.texts(n_batches * batch_size, SeqLen::Natural, None)?.into_iter();
    let batches: Vec<TokenizedBatch> = (0..n_batches)
        .map(|b| {
            let lens: Vec<usize> = (0..batch_size)
                .map(|i| match seq {
                    SeqLen::Tokens(n) => n,
                    SeqLen::Natural => 8 + (b * batch_size + i) * 7 % 57,
                })
                .collect();
            let seq_len = *lens.iter().max().expect("batch_size >= 1");
            let mut batch = TokenizedBatch {
                batch_size,
                seq_len,
                input_ids: Vec::with_capacity(batch_size * seq_len),
                attention_mask: Vec::with_capacity(batch_size * seq_len),
                token_type_ids: vec![0; batch_size * seq_len],
                texts: texts.by_ref().take(batch_size).map(Arc::from).collect(),
            };
            for len in lens {
                batch.input_ids.extend((0..seq_len).map(|t| if t < len { 1000 + t as i64 } else { 0 }));
                batch.attention_mask.extend((0..seq_len).map(|t| i64::from(t < len)));
            }
            batch
        })
        .collect();
    Ok(PreparedInputs {
        tokens_per_input_mean: mean_tokens(&batches),
        batches: batches.into_iter().map(RequestInput::Text).collect(),
        tokenize_ms_per_request: None,
        prompt_tokens: None,
        padding: Padding::default(),
        images: None,
        encoded: None,
    })
}

fn mean_tokens(batches: &[TokenizedBatch]) -> f64 {
    let inputs: usize = batches.iter().map(|b| b.batch_size).sum();
    let tokens: usize = batches.iter().map(TokenizedBatch::real_tokens).sum();
    tokens as f64 / inputs.max(1) as f64
}

/// The distinct texts of a cache cell, tokenized one by one, and its request stream.
#[derive(Debug)]
pub struct CacheInputs {
    /// Distinct texts; stream id `k` is `texts[k]`.
    pub texts: Vec<String>,
    /// `rows[k]`: `texts[k]` tokenized alone (one row).
    pub rows: Vec<TokenizedBatch>,
    /// Ids of the cold phase's texts followed by the warm phase's.
    pub stream: RepeatStream,
    /// Mean time to tokenize one text, ms (None for synthetic token ids).
    pub tokenize_ms_per_text: Option<f64>,
    /// How the model pads the rows joined into a batch.
    pub padding: Padding,
}

impl CacheInputs {
    /// The stream of `2 · texts_per_phase` positions at `ratio`, and its distinct texts tokenized at `seq`.
    pub fn prepare(
        source: &TextSource,
        tokenizer: Option<&TextTokenizer>,
        seq: SeqLen,
        texts_per_phase: usize,
        ratio: f64,
        spec: &ResolvedCache,
    ) -> Result<Self, String> {
        let stream = repeat_stream(2 * texts_per_phase, ratio, spec.distribution, spec.zipf_exponent, spec.seed);
        let mut texts = source.texts(stream.distinct, seq, tokenizer)?;
        // A short dataset file cycles; a number in front keeps every text distinct (and not truncated away).
        let mut seen = std::collections::HashSet::new();
        for (k, t) in texts.iter_mut().enumerate() {
            if !seen.insert(t.clone()) {
                *t = format!("{k}: {t}");
                seen.insert(t.clone());
            }
        }
        let start = Instant::now();
        let rows = match tokenizer {
            Some(tok) => {
                let bt = tok.for_seq_len(seq)?;
                texts.iter().map(|t| bt.encode(&[t.as_str()])).collect::<Result<Vec<_>, _>>()?
            }
            None => texts.iter().enumerate().map(|(k, t)| synthetic_row(k, seq, t)).collect(),
        };
        let tokenize_ms_per_text = tokenizer.map(|_| start.elapsed().as_secs_f64() * 1e3 / texts.len().max(1) as f64);
        let padding = tokenizer.map(TextTokenizer::padding).unwrap_or_default();
        Ok(Self { texts, rows, stream, tokenize_ms_per_text, padding })
    }

    /// The batch of `texts` (each one of ours), rows padded to the longest.
    pub fn assemble(&self, index: &HashMap<&str, usize>, texts: &[&str]) -> Result<TokenizedBatch, String> {
        let rows: Vec<&TokenizedBatch> = texts
            .iter()
            .map(|t| index.get(t).map(|&k| &self.rows[k]).ok_or_else(|| format!("text not in the cell's inputs: {t}")))
            .collect::<Result<_, _>>()?;
        Ok(TokenizedBatch::concat(&rows, self.padding))
    }
}

/// Token ids for a model without a tokenizer (mock runs): distinct per text.
fn synthetic_row(k: usize, seq: SeqLen, text: &str) -> TokenizedBatch {
    let len = match seq {
        SeqLen::Tokens(n) => n,
        SeqLen::Natural => 8 + k * 7 % 57,
    };
    let ids = (0..len).map(|t| 1000 + ((k * 7919 + t * 31) % 20_000) as i64).collect();
    TokenizedBatch {
        batch_size: 1,
        seq_len: len,
        input_ids: ids,
        attention_mask: vec![1; len],
        token_type_ids: vec![0; len],
        texts: vec![Arc::from(text)],
    }
}
