//! The reduced-precision variants the converter makes beside a model's fp32 files,
//! and the record it keeps of them in each format's folder (`onnx/variants.json`:
//! `scripts/python/quantize_onnx.py`; `openvino/variants.json`: `quantize_openvino.py`;
//! `torchscript/variants.json`: `quantize_torch.py`):
//!
//! ```text
//! {"source": {"path": "model.onnx", "files": [{"path": "model.onnx", "sha256": "…"}]},
//!  "variants": {"int8-dynamic": {"path": "model_int8_dynamic.onnx",
//!                                "files": [{"path": "model_int8_dynamic.onnx", "sha256": "…"}],
//!                                "tool": "…", "op_types": {"MatMulInteger": 36, …}},
//!               "int8-static": {"path": "…", "tool": "…", "failed": "the tool's error"}}}
//! ```
//!
//! Paths are relative to the record's folder. A variant is used only while every hash
//! holds: a model re-converted since (new fp32 files) makes its variants stale, and the
//! load says so with the command that remakes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Deserialize;

use crate::model_files::ModelFolder;
use crate::retrieval::sha256_file;

#[derive(Debug, Deserialize)]
struct Record {
    source: Entry,
    variants: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    path: String,
    #[serde(default)]
    files: Vec<HashedFile>,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    failed: Option<String>,
    #[serde(default)]
    op_types: BTreeMap<String, usize>,
    #[serde(default)]
    runtime_layers: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Deserialize)]
struct HashedFile {
    path: String,
    sha256: String,
}

/// A variant checked against its record.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name (`int8-dynamic`, `int8-static`, `int8-weights`, `fp16`).
    pub name: String,
    /// The file a backend loads (`.onnx`, `.xml`, `.pt`).
    pub path: PathBuf,
    /// What made it (tool and versions).
    pub tool: String,
    /// sha256 of [`Variant::path`], hex.
    pub sha256: String,
    /// How the variant computes, from the record: the graph's quantised operators and
    /// their counts (ONNX: `MatMulInteger 36`; TorchScript: `quantized::linear_dynamic 36`),
    /// or OpenVINO's compiled runtime graph's matrix layers by runtime precision
    /// (`FullyConnected u8 29`) on the machine that converted it.
    pub computes: BTreeMap<String, usize>,
}

impl Variant {
    /// One line for a record's settings: `int8-dynamic: model_int8_dynamic.onnx (sha256
    /// 0123456789ab…; DynamicQuantizeLinear 24, MatMulInteger 36; by …)`.
    pub fn describe(&self) -> String {
        let ops: Vec<String> = self.computes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let file = self.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let ops = if ops.is_empty() { String::new() } else { format!("; {}", ops.join(", ")) };
        format!("{}: {file} (sha256 {}…{ops}; by {})", self.name, short(&self.sha256), self.tool)
    }
}

/// Operators that only a quantised graph holds (ONNX and TorchScript).
const QUANTIZED_OPS: [&str; 7] = [
    "MatMulInteger",
    "DynamicQuantizeLinear",
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearMatMul",
    "QGemm",
    "quantized::linear_dynamic",
];

fn short(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

/// Variant `name` of the record in `folder`'s `dir` (`onnx`, `openvino`, `torchscript`),
/// checked: it is in the record, it was made, and the hashes of its files and of the
/// fp32 files it came from are the record's. `model` names the model in the fix.
///
/// Errors (each naming the file and the command that remakes it): no record, no such
/// variant, one the tool could not make (with the tool's error), a missing file, a
/// stale variant (the fp32 files or the variant changed since).
pub fn resolve(folder: &ModelFolder, dir: &str, name: &str, model: &str) -> Result<Variant, String> {
    let record_path = folder.root.join(dir).join("variants.json");
    let remake = format!("fix: scripts/convert_models.sh {model} makes it (--force remakes it)");
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
    if record.source.files.is_empty() {
        return Err(format!("{}: no hashes of the fp32 files it came from ({remake})", record_path.display()));
    }
    for source in &record.source.files {
        let path = record_path.with_file_name(&source.path);
        let now = hash(&path)?;
        if now != source.sha256 {
            return Err(format!(
                "{}: stale: made from a {} of sha256 {}…, but it is now {}… (re-converted since) ({remake})",
                file.display(),
                path.display(),
                short(&source.sha256),
                short(&now)
            ));
        }
    }
    if let Some(why) = &entry.failed {
        let first: Vec<&str> = why.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
        return Err(format!(
            "{}: {} could not make the {name} variant of model '{model}': {} (fix: leave this precision out for this backend and model)",
            file.display(),
            entry.tool,
            first.join(" ")
        ));
    }
    if entry.files.is_empty() {
        return Err(format!("{}: no hashes for variant '{name}' ({remake})", record_path.display()));
    }
    for f in &entry.files {
        let path = record_path.with_file_name(&f.path);
        let now = hash(&path)?;
        if now != f.sha256 {
            return Err(format!(
                "{}: sha256 {}… differs from the {}… of {} (the file changed after it was made) ({remake})",
                path.display(),
                short(&now),
                short(&f.sha256),
                record_path.display()
            ));
        }
    }
    let sha256 = entry.files.iter().find(|f| f.path == entry.path).map(|f| f.sha256.clone()).unwrap_or_default();
    let quantized = entry.op_types.iter().filter(|(k, _)| QUANTIZED_OPS.contains(&k.as_str()));
    Ok(Variant {
        name: name.to_string(),
        path: file,
        tool: entry.tool.clone(),
        sha256,
        computes: quantized.chain(&entry.runtime_layers).map(|(k, v)| (k.clone(), *v)).collect(),
    })
}

/// The files a variant needs, for validation's missing-file check: the record and the
/// variant's own files as the record names them (`fallback`, the usual file name, when
/// the record cannot be read; the record alone for a variant its tool could not make,
/// whose load then gives the tool's error).
pub fn files(folder: &ModelFolder, dir: &str, name: &str, fallback: &str) -> Vec<PathBuf> {
    let record_path = folder.root.join(dir).join("variants.json");
    let listed = std::fs::read_to_string(&record_path)
        .ok()
        .and_then(|t| serde_json::from_str::<Record>(&t).ok())
        .and_then(|r| r.variants.get(name).cloned())
        .map(|e| match (&e.failed, e.files.is_empty()) {
            // The load says why the tool could not make it; no file to look for.
            (Some(_), _) => Vec::new(),
            (None, true) => vec![record_path.with_file_name(&e.path)],
            (None, false) => e.files.iter().map(|f| record_path.with_file_name(&f.path)).collect(),
        });
    let mut out = vec![record_path.clone()];
    out.extend(listed.unwrap_or_else(|| vec![record_path.with_file_name(fallback)]));
    out
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
