//! The reduced-precision variants of a model's ONNX graph that
//! `scripts/python/quantize_onnx.py` makes beside `onnx/model.onnx`, and the
//! record it keeps of them (`onnx/variants.json`): which tool made each, its
//! operator counts, its sha256 and the sha256 of the fp32 graph it was made from.
//!
//! A variant is used only while both hashes hold: a model re-converted since (a
//! new `model.onnx`) makes every variant stale, and the load says so with the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use embench_core::model_files::ModelFolder;
use embench_core::retrieval::sha256_file;
use serde::Deserialize;

/// `onnx/variants.json`.
pub const RECORD: &str = "onnx/variants.json";

/// The file of variant `name` (`int8-dynamic` -> `onnx/model_int8_dynamic.onnx`).
pub fn path(folder: &ModelFolder, name: &str) -> PathBuf {
    folder.root.join(format!("onnx/model_{}.onnx", name.replace('-', "_")))
}

#[derive(Debug, Deserialize)]
struct Record {
    source: Source,
    variants: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Source {
    sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    path: String,
    tool: String,
    sha256: String,
    #[serde(default)]
    op_types: BTreeMap<String, usize>,
}

/// A variant checked against its record.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name (`int8-dynamic`, `int8-static`, `fp16`).
    pub name: String,
    /// The ONNX file.
    pub path: PathBuf,
    /// What made it (tool and onnxruntime version).
    pub tool: String,
    /// Its sha256, hex.
    pub sha256: String,
    /// The graph's quantised operators and their counts (`MatMulInteger`,
    /// `DynamicQuantizeLinear`, `QuantizeLinear`, `DequantizeLinear`), from the record.
    pub quantized_ops: BTreeMap<String, usize>,
}

impl Variant {
    /// One line for the record's settings: `int8-dynamic: model_int8_dynamic.onnx
    /// (sha256 0123abcd…; MatMulInteger 36, DynamicQuantizeLinear 24; by …)`.
    pub fn describe(&self) -> String {
        let ops: Vec<String> = self.quantized_ops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let file = self.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let ops = if ops.is_empty() { String::new() } else { format!("; {}", ops.join(", ")) };
        format!("{}: {file} (sha256 {}…{ops}; by {})", self.name, &self.sha256[..12.min(self.sha256.len())], self.tool)
    }
}

/// Operators that only a quantised graph holds.
const QUANTIZED_OPS: [&str; 6] =
    ["MatMulInteger", "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QGemm"];

/// Variant `name` of `folder`, checked: it is in the record, and the hashes of the file
/// and of `onnx/model.onnx` are the record's.
///
/// Errors (each naming the file and the command that remakes it): no record, no such
/// variant, a missing file, a stale variant (model.onnx or the file changed since).
pub fn resolve(folder: &ModelFolder, name: &str) -> Result<Variant, String> {
    let record_path = folder.root.join(RECORD);
    let remake = format!("fix: scripts/convert_models.sh <model key> (or .venv/bin/python scripts/python/quantize_onnx.py {} --max-length <max_seq_length> --force)", folder.root.display());
    let text =
        std::fs::read_to_string(&record_path).map_err(|e| format!("{}: {e} ({remake})", record_path.display()))?;
    let record: Record =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e} ({remake})", record_path.display()))?;
    let entry = record.variants.get(name).ok_or_else(|| {
        format!(
            "{}: no variant '{name}' (it has: {}) ({remake})",
            record_path.display(),
            record.variants.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let file = record_path.with_file_name(&entry.path);
    let source = folder.onnx_model();
    let source_hash = hash(&source)?;
    if source_hash != record.source.sha256 {
        return Err(format!(
            "{}: stale: made from a model.onnx of sha256 {}…, but {} is now {}… (re-converted since) ({remake})",
            file.display(),
            &record.source.sha256[..12.min(record.source.sha256.len())],
            source.display(),
            &source_hash[..12]
        ));
    }
    let file_hash = hash(&file)?;
    if file_hash != entry.sha256 {
        return Err(format!(
            "{}: sha256 {}… differs from {}'s {}… (the file changed after quantisation) ({remake})",
            file.display(),
            &file_hash[..12],
            record_path.display(),
            &entry.sha256[..12.min(entry.sha256.len())]
        ));
    }
    Ok(Variant {
        name: name.to_string(),
        path: file,
        tool: entry.tool.clone(),
        sha256: file_hash,
        quantized_ops: entry
            .op_types
            .iter()
            .filter(|(k, _)| QUANTIZED_OPS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    })
}

/// sha256 of `path`, remembered per (path, size, modification time): every cell loads
/// its model again, and hashing a large graph each time would slow the loads down.
fn hash(path: &Path) -> Result<String, String> {
    type Key = (PathBuf, u64, Option<SystemTime>);
    static MEMO: Mutex<Vec<(Key, String)>> = Mutex::new(Vec::new());
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    if let Some((_, h)) = MEMO.lock().expect("hash memo").iter().find(|(k, _)| *k == key) {
        return Ok(h.clone());
    }
    let h = sha256_file(path)?;
    MEMO.lock().expect("hash memo").push((key, h.clone()));
    Ok(h)
}
