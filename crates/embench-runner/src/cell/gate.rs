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
use embench_core::model_files::ModelFolder;
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{Embedder, Precision};

/// Minimum cosine for full precision.
pub const FP32_MIN_COSINE: f64 = 0.999;
/// Minimum cosine for reduced precision (bf16, fp16, int8).
pub const REDUCED_MIN_COSINE: f64 = 0.99;

/// The script that writes reference sets, embedded so the binary can make a missing one wherever it runs.
pub const REFERENCE_SCRIPT: &str = include_str!("../../../../scripts/python/make_references.py");

/// The bound for a precision.
pub fn threshold(precision: Precision) -> f64 {
    if precision == Precision::Fp32 {
        FP32_MIN_COSINE
    } else {
        REDUCED_MIN_COSINE
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
}

impl GateResult {
    /// Whether every probe met the bound (a NaN never does).
    pub fn passed(&self) -> bool {
        self.nan_cosines == 0 && self.min_cosine.is_some_and(|m| m >= self.threshold)
    }

    /// Why it failed, for the record.
    pub fn failure(&self, precision: &str) -> String {
        let shape = format!("batch {} x seq {}", self.batch_size, self.seq_len);
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
        Self { natural, fixed, tokenizer, folder: None, key: "the model".into() }
    }

    /// The gate of `model`: None when the model has no natural-length reference
    /// (the cells then carry a warning). Reads every `references/seq_N.json` present.
    pub fn for_model(model: &ResolvedModel) -> Result<Option<Gate>, String> {
        let Some(folder) = &model.folder else { return Ok(None) };
        let path = folder.reference();
        if !path.is_file() {
            return Ok(None);
        }
        let natural = ReferenceSet::from_file(&path)?;
        let mut fixed = BTreeMap::new();
        let dir = folder.root.join("references");
        if let Ok(entries) = std::fs::read_dir(&dir) {
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
        let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), model.config.max_seq_length.value)?;
        Ok(Some(Gate { natural, fixed, tokenizer, folder: Some(folder.clone()), key: model.key.clone() }))
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
                    let path = self
                        .folder
                        .as_ref()
                        .map_or_else(|| format!("seq_{n}.json"), |f| f.reference_at(n).display().to_string());
                    let root = self.folder.as_ref().map_or_else(|| self.key.clone(), |f| f.root.display().to_string());
                    let why = format!(
                        "correctness checked at natural length, not at seq {n}: {path} does not exist (fix: scripts/python/make_references.py {root} --seq-lens {n}, with the project venv's python; embench run makes it itself when the venv has torch)"
                    );
                    (&self.natural, SeqLen::Natural, Some(why))
                }
            },
        };
        let cosines = reference.cosines_at(embedder, &self.tokenizer, at, batch_size)?;
        // Clamped: rounding can put a cosine of parallel vectors a hair past ±1.
        let finite: Vec<f64> = cosines.iter().filter(|c| !c.is_nan()).map(|&c| (c as f64).clamp(-1.0, 1.0)).collect();
        Ok(GateResult {
            min_cosine: finite.iter().copied().reduce(f64::min),
            nan_cosines: cosines.len() - finite.len(),
            probes: cosines.len(),
            threshold: threshold(embedder.info().precision),
            batch_size,
            seq_len: at,
            fallback,
        })
    }
}

/// Writes the reference sets `model` lacks at the fixed lengths `lens`, with the
/// project venv's python running [`REFERENCE_SCRIPT`] (PyTorch and transformers
/// from the venv). Errors: why they could not be made (no python, the script failed).
pub fn make_missing_references(model: &ResolvedModel, lens: &[usize], python: Option<&Path>) -> Result<(), String> {
    let Some(folder) = &model.folder else { return Ok(()) };
    let missing: Vec<usize> = lens.iter().copied().filter(|&n| !folder.reference_at(n).is_file()).collect();
    if missing.is_empty() || !folder.reference().is_file() {
        return Ok(());
    }
    let python = python.ok_or_else(|| {
        format!("at seq {missing:?}: no python to make them with (fix: make venv, or set EMBENCH_PYTHON)")
    })?;
    let script = std::env::temp_dir().join(format!("embench-make-references-{}.py", std::process::id()));
    std::fs::write(&script, REFERENCE_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    eprintln!(
        "model {}: making reference embeddings at seq {missing:?} (once; kept in {})",
        model.key,
        folder.root.join("references").display()
    );
    let output = Command::new(python)
        .arg(&script)
        .arg(&folder.root)
        .arg("--max-length")
        .arg(model.config.max_seq_length.value.to_string())
        .arg("--seq-lens")
        .args(missing.iter().map(|n| n.to_string()))
        .output();
    let _ = std::fs::remove_file(&script);
    let output = output.map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("at seq {missing:?}: {} exited with {}: {last}", python.display(), output.status));
    }
    Ok(())
}
