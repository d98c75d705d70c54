//! The correctness gate: after a cell's measured phase, the same model instance
//! embeds the model's probe set at the cell's own shape (its batch size, its
//! sequence length, padded and truncated exactly as the cell's inputs are), and
//! every vector is compared with its reference, made in PyTorch from the same
//! texts at the same truncation (`scripts/python/make_references.py`). Where no
//! reference at the cell's length exists (nor can be made), the natural-length
//! probes run at the cell's batch size instead and the cell says so. A cell
//! below the bound, or with a NaN among the probes, keeps its figures but is
//! recorded `valid: false` with the reason.
//!
//! It runs after the measurement, not before: its probes have other shapes than
//! the cell's inputs, and shape-specialising runtimes (TorchScript's profiling
//! executor measurably so) would otherwise be measured after a re-specialisation
//! that the cell's own traffic never causes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use embench_core::config::{ResolvedModel, SeqLen};
use embench_core::images::reference::{ImageReference, PreprocessParity};
use embench_core::images::ImageProcessor;
use embench_core::model_files::ModelFolder;
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{Embedder, Modality, Precision};

/// Minimum cosine for full precision.
pub const FP32_MIN_COSINE: f64 = 0.999;
/// Minimum cosine for 16-bit floats (bf16, fp16).
pub const REDUCED_MIN_COSINE: f64 = 0.99;
/// Minimum cosine for int8: a wrong model (pooling, head, inputs) lands far below it,
/// while int8's own rounding does not (ONNX Runtime's dynamic int8 of all-MiniLM-L6-v2:
/// min cosine 0.980 to fp32 over the 2 000 sentences of the retrieval corpus). How
/// much search quality int8 keeps is the retrieval check's bound, not this one.
pub const INT8_MIN_COSINE: f64 = 0.95;
/// Minimum cosine between a backend's embedding of embench's preprocessing of the
/// probe images and its embedding of Hugging Face's: resamplers differ a little
/// (rounding), so this bound is looser than the backend's own.
pub const PREPROCESS_MIN_COSINE: f64 = 0.99;

/// The script that writes reference sets, embedded so the binary can make a missing one wherever it runs.
pub const REFERENCE_SCRIPT: &str = include_str!("../../../../scripts/python/make_references.py");

/// The bound for a precision.
pub fn threshold(precision: Precision) -> f64 {
    match precision {
        Precision::Fp32 => FP32_MIN_COSINE,
        Precision::Fp16 | Precision::Bf16 => REDUCED_MIN_COSINE,
        Precision::Int8 => INT8_MIN_COSINE,
    }
}

/// A model's probe sets (natural length, and each fixed length it has) and the tokenizer to encode them.
pub struct Gate {
    natural: ReferenceSet,
    fixed: BTreeMap<usize, ReferenceSet>,
    tokenizer: TextTokenizer,
    /// The model folder, for messages (None: built in memory).
    folder: Option<ModelFolder>,
    /// The model key, for the fix in messages.
    key: String,
    /// The scenario prompt's name (None: no prompt), for the fix in messages.
    prompt: Option<String>,
    /// A multimodal model's image reference and its preprocessing, or why it could not
    /// be read (None: a text model). Read apart from the text references, so that a
    /// broken image reference fails the image cells and leaves the text tower's gate alone.
    image: Option<Result<(ImageReference, ImageProcessor), String>>,
}

/// What the gate found.
#[derive(Debug, Clone, PartialEq)]
pub struct GateResult {
    /// The smallest cosine over the probes that gave a number (None: none did).
    pub min_cosine: Option<f64>,
    /// Probe cosines that were NaN (a vector holding NaN or infinity).
    pub nan_cosines: usize,
    /// Probe rows compared.
    pub probes: usize,
    /// The bound it had to meet.
    pub threshold: f64,
    /// The shape it ran at: texts per batch and sequence length.
    pub batch_size: usize,
    /// The sequence length it ran at.
    pub seq_len: SeqLen,
    /// Set when it could not run at the cell's own length (no reference there) and
    /// checked the natural-length probes at the cell's batch size instead: for the record's warnings.
    pub fallback: Option<String>,
    /// Image cells: embench's preprocessing against Hugging Face's.
    pub parity: Option<PreprocessParity>,
    /// What the probes were: `text` or `image`.
    pub modality: Modality,
}

impl GateResult {
    /// Whether every probe met the bound (a NaN never does).
    pub fn passed(&self) -> bool {
        self.nan_cosines == 0
            && self.min_cosine.is_some_and(|m| m >= self.threshold)
            && self.parity.is_none_or(|p| p.min_cosine >= PREPROCESS_MIN_COSINE)
    }

    /// Why it failed, for the record.
    pub fn failure(&self, precision: &str) -> String {
        let shape = match self.modality {
            Modality::Text => format!("batch {} x seq {}", self.batch_size, self.seq_len),
            Modality::Image => format!("batch {} of images", self.batch_size),
        };
        if let Some(p) = self.parity.filter(|p| p.min_cosine < PREPROCESS_MIN_COSINE) {
            return format!(
                "preprocessing parity failed: the probe images preprocessed by embench embed at min cosine {:.6} < {PREPROCESS_MIN_COSINE} to this backend's vectors of Hugging Face's pixels (max pixel difference {:.4}; fix: check preprocessor_config.json against the model's image processor)",
                p.min_cosine, p.max_abs_pixel_diff
            );
        }
        if self.nan_cosines > 0 {
            format!(
                "correctness gate failed at {shape}: {} of {} probe vectors hold NaN or infinity (fix: the model's numbers are broken: check its config.json, its conversion, or a precision that overflows)",
                self.nan_cosines, self.probes
            )
        } else {
            format!(
                "correctness gate failed at {shape}: min cosine {:.6} against the reference < {} for {precision}",
                self.min_cosine.unwrap_or(f64::NAN),
                self.threshold
            )
        }
    }
}

impl Gate {
    /// A gate from reference sets in memory (`fixed`: by sequence length).
    pub fn new(tokenizer: TextTokenizer, natural: ReferenceSet, fixed: BTreeMap<usize, ReferenceSet>) -> Self {
        Self { natural, fixed, tokenizer, folder: None, key: "the model".into(), prompt: None, image: None }
    }

    /// The gate of `model` with the scenario prompt named `prompt` (None: no prompt):
    /// None when the model has no natural-length reference for it (the cells then
    /// carry a warning). Reads every `seq_N.json` present in the prompt's references
    /// folder ([`ModelFolder::references_dir`]); the probes are encoded after the prompt.
    pub fn for_model(model: &ResolvedModel, prompt: Option<&str>) -> Result<Option<Gate>, String> {
        let Some(folder) = &model.folder else { return Ok(None) };
        let path = folder.reference_for(prompt, None);
        if !path.is_file() {
            return Ok(None);
        }
        let natural = ReferenceSet::from_file(&path)?;
        let mut fixed = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(folder.references_dir(prompt)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(n) = name.strip_prefix("seq_").and_then(|s| s.strip_suffix(".json")) else { continue };
                let Ok(n) = n.parse::<usize>() else { continue };
                let set = ReferenceSet::from_file(&entry.path())?;
                if set.seq_len != Some(n) {
                    return Err(format!(
                        "{}: made for seq {:?}, not {n} (fix: remove it; embench run makes it again)",
                        entry.path().display(),
                        set.seq_len
                    ));
                }
                fixed.insert(n, set);
            }
        }
        let text = model.prompt_text(prompt)?;
        // A set made with another prompt text (the model's file changed since) is stale.
        for (path, set) in std::iter::once((path.clone(), &natural))
            .chain(fixed.iter().map(|(n, set)| (folder.reference_for(prompt, Some(*n)), set)))
        {
            if set.prompt.as_deref().filter(|p| !p.is_empty()) != text.filter(|t| !t.is_empty()) {
                return Err(format!(
                    "{}: made with prompt {:?}, but the model's prompt is now {:?} (fix: remove it; embench run makes it again)",
                    path.display(),
                    set.prompt.as_deref().unwrap_or(""),
                    text.unwrap_or("")
                ));
            }
        }
        let tokenizer =
            TextTokenizer::from_file(&folder.tokenizer_json(), model.config.max_seq_length.value)?.with_prompt(text);
        // Matryoshka: the model's vectors cut to embedding_dim, as sentence-transformers' truncate_dim.
        let (natural, fixed) = match model.truncate_dim {
            Some(dim) => (natural.truncated(dim), fixed.into_iter().map(|(n, set)| (n, set.truncated(dim))).collect()),
            None => (natural, fixed),
        };
        let key = model.key.clone();
        let image = model.modalities().contains(&Modality::Image).then(|| {
            let reference = ImageReference::from_root(&folder.root)?;
            let processor = ImageProcessor::from_file(&folder.preprocessor_config())?;
            Ok((reference, processor))
        });
        Ok(Some(Gate {
            image,
            natural,
            fixed,
            tokenizer,
            folder: Some(folder.clone()),
            key,
            prompt: prompt.map(str::to_string),
        }))
    }

    /// The gate of a cell of `modality`: [`Self::check`] for text; for images, the
    /// reference pixel tensor at the cell's batch size against transformers' vectors,
    /// and preprocessing parity on the probe files.
    ///
    /// Errors: the backend's own, a model without an image reference, or a probe file
    /// that cannot be read.
    pub fn check_cell(
        &self,
        embedder: &dyn Embedder,
        modality: Modality,
        seq: SeqLen,
        batch_size: usize,
    ) -> Result<GateResult, String> {
        if modality == Modality::Text {
            return self.check(embedder, seq, batch_size);
        }
        let (reference, processor) = match &self.image {
            Some(Ok(image)) => image,
            Some(Err(why)) => return Err(why.clone()),
            None => return Err(format!("model '{}' has no image tower", self.key)),
        };
        let cosines = reference.cosines(embedder, batch_size)?;
        let parity = reference.parity(processor, embedder)?;
        Ok(summarise(&cosines, embedder, batch_size, SeqLen::Natural, None, Some(parity), Modality::Image))
    }

    /// Embeds the probe set with `embedder` at a cell's shape and compares every row
    /// with its reference. Without a reference at the cell's length, the natural-length
    /// probes run at the cell's batch size instead, and the result says so (`fallback`).
    ///
    /// Errors: the backend's own, on the probes.
    pub fn check(&self, embedder: &dyn Embedder, seq: SeqLen, batch_size: usize) -> Result<GateResult, String> {
        let (reference, at, fallback) = match seq {
            SeqLen::Natural => (&self.natural, seq, None),
            SeqLen::Tokens(n) => match self.fixed.get(&n) {
                Some(r) => (r, seq, None),
                None => {
                    let prompt = self.prompt.as_deref();
                    let path = self.folder.as_ref().map_or_else(
                        || format!("seq_{n}.json"),
                        |f| f.reference_for(prompt, Some(n)).display().to_string(),
                    );
                    let root = self.folder.as_ref().map_or_else(|| self.key.clone(), |f| f.root.display().to_string());
                    let flag = prompt.map(|p| format!(" --prompt-name {p}")).unwrap_or_default();
                    let why = format!(
                        "correctness checked at natural length, not at seq {n}: {path} does not exist (fix: scripts/python/make_references.py {root} --seq-lens {n}{flag}, with the project venv's python; embench run makes it itself when the venv has torch)"
                    );
                    (&self.natural, SeqLen::Natural, Some(why))
                }
            },
        };
        let cosines = reference.cosines_at(embedder, &self.tokenizer, at, batch_size)?;
        Ok(summarise(&cosines, embedder, batch_size, at, fallback, None, Modality::Text))
    }
}

/// The gate's verdict on probe `cosines`.
fn summarise(
    cosines: &[f32],
    embedder: &dyn Embedder,
    batch_size: usize,
    seq_len: SeqLen,
    fallback: Option<String>,
    parity: Option<PreprocessParity>,
    modality: Modality,
) -> GateResult {
    // Clamped: rounding can put a cosine of parallel vectors a hair past ±1.
    let finite: Vec<f64> = cosines.iter().filter(|c| !c.is_nan()).map(|&c| (c as f64).clamp(-1.0, 1.0)).collect();
    GateResult {
        min_cosine: finite.iter().copied().reduce(f64::min),
        nan_cosines: cosines.len() - finite.len(),
        probes: cosines.len(),
        threshold: threshold(embedder.info().precision),
        batch_size,
        seq_len,
        fallback,
        parity,
        modality,
    }
}

/// Writes the reference sets `model` lacks for `prompt` (None: no prompt) at the
/// fixed lengths `lens`, and at natural length with a prompt (the conversion writes
/// only the prompt-less one), with the project venv's python running
/// [`REFERENCE_SCRIPT`] (sentence-transformers from the venv). Errors: why they could
/// not be made (no python, the script failed).
pub fn make_missing_references(
    model: &ResolvedModel,
    lens: &[usize],
    prompt: Option<&str>,
    python: Option<&Path>,
) -> Result<(), String> {
    let Some(folder) = &model.folder else { return Ok(()) };
    // CLIP and SigLIP have no sentence-transformers pipeline: their references come
    // from the conversion only (the gate falls back to natural length and says so).
    if model.modalities().contains(&Modality::Image) {
        return Ok(());
    }
    let missing: Vec<usize> =
        lens.iter().copied().filter(|&n| !folder.reference_for(prompt, Some(n)).is_file()).collect();
    let natural = prompt.is_some() && !folder.reference_for(prompt, None).is_file();
    // Without the conversion's own reference there is nothing to gate with: say so elsewhere.
    if (missing.is_empty() && !natural) || !folder.reference().is_file() {
        return Ok(());
    }
    let what = match (natural, prompt) {
        (true, Some(p)) => format!("at seq {missing:?} and natural length with prompt '{p}'"),
        (_, Some(p)) => format!("at seq {missing:?} with prompt '{p}'"),
        _ => format!("at seq {missing:?}"),
    };
    let python =
        python.ok_or_else(|| format!("{what}: no python to make them with (fix: make venv, or set EMBENCH_PYTHON)"))?;
    let script = std::env::temp_dir().join(format!("embench-make-references-{}.py", std::process::id()));
    std::fs::write(&script, REFERENCE_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    eprintln!(
        "model {}: making reference embeddings {what} (once; kept in {})",
        model.key,
        folder.references_dir(prompt).display()
    );
    let mut command = Command::new(python);
    command.arg(&script).arg(&folder.root).arg("--max-length").arg(model.config.max_seq_length.value.to_string());
    command.arg("--seq-lens").args(missing.iter().map(|n| n.to_string()));
    if let Some(p) = prompt {
        command.arg("--prompt-name").arg(p);
    }
    if natural {
        command.arg("--natural");
    }
    let output = command.output();
    let _ = std::fs::remove_file(&script);
    let output = output.map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("{what}: {} exited with {}: {last}", python.display(), output.status));
    }
    Ok(())
}
