//! What a model folder's own files allow: the longest input its position table
//! holds, and the size of the vector its head puts out. Validation bounds every
//! sequence length and `embedding_dim` by them, so a config the model cannot run
//! fails before anything loads, naming the file the limit came from.

use crate::model_files::{read_json, ModelFolder};

/// Model types whose position ids start after the padding index (fairseq's
/// RoBERTa layout, `create_position_ids_from_input_ids` in transformers): of
/// `max_position_embeddings` rows, `pad_token_id + 1` are never used by a real
/// token (XLM-RoBERTa: 514 rows, 512 usable positions).
const PADDING_OFFSET_TYPES: [&str; 7] =
    ["roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "longformer", "mpnet"];

/// A model's limits, each with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLimits {
    /// The longest input in tokens, special tokens included (None: `config.json` gives no table size).
    pub max_positions: Option<usize>,
    /// Where `max_positions` comes from, e.g. `…/config.json: max_position_embeddings 514 less the padding offset 2 (xlm-roberta)`.
    pub positions_source: String,
    /// Size of one output vector: the last Dense module's `out_features`, else `hidden_size`.
    pub output_dim: Option<usize>,
    /// Where `output_dim` comes from.
    pub output_source: String,
    /// `config.json`'s `model_type` (None: not given).
    pub model_type: Option<String>,
}

impl ModelLimits {
    /// Reads `config.json` (and sentence-transformers' `modules.json` and Dense
    /// configs) of `folder`. None when the folder has no `config.json`.
    ///
    /// Errors: a file that exists but cannot be read or parsed, named with its path.
    pub fn read(folder: &ModelFolder) -> Result<Option<Self>, String> {
        let path = folder.config_json();
        let Some(config) = read_json(&path)? else { return Ok(None) };
        let get = |k: &str| config.get(k).and_then(|v| v.as_u64()).map(|v| v as usize);
        let declared_type = config.get("model_type").and_then(|v| v.as_str()).map(str::to_string);
        let model_type = declared_type.as_deref().unwrap_or("unknown");
        let (max_positions, positions_source) = match get("max_position_embeddings") {
            Some(rows) if PADDING_OFFSET_TYPES.contains(&model_type) => {
                let offset = get("pad_token_id").unwrap_or(1) + 1;
                (
                    Some(rows.saturating_sub(offset)),
                    format!(
                        "{}: max_position_embeddings {rows} less the padding offset {offset} ({model_type})",
                        path.display()
                    ),
                )
            }
            Some(rows) => (Some(rows), format!("{}: max_position_embeddings {rows}", path.display())),
            // CLIP and SigLIP: the text tower's table (transformers' default when omitted).
            None => match crate::tower_config::tower_of(&config, crate::Modality::Text)
                .and_then(|t| t["max_position_embeddings"].as_u64())
            {
                Some(rows) => {
                    (Some(rows as usize), format!("{}: text_config.max_position_embeddings {rows}", path.display()))
                }
                None => (None, format!("{}: no max_position_embeddings", path.display())),
            },
        };
        let (output_dim, output_source) = match last_dense(folder)? {
            Some((dim, source)) => (Some(dim), source),
            None => (get("hidden_size"), format!("{}: hidden_size", path.display())),
        };
        Ok(Some(Self { max_positions, positions_source, output_dim, output_source, model_type: declared_type }))
    }
}

/// The last Dense module of sentence-transformers' pipeline: its `out_features` and where it was read.
fn last_dense(folder: &ModelFolder) -> Result<Option<(usize, String)>, String> {
    let hf = folder.hf_dir();
    let Some(dense) = folder.modules()?.unwrap_or_default().into_iter().rev().find(|m| m.class == "Dense") else {
        return Ok(None);
    };
    let path = hf.join(&dense.path).join("config.json");
    let config =
        read_json(&path)?.ok_or_else(|| format!("{}: the Dense module's config is missing", path.display()))?;
    let out = config
        .get("out_features")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| format!("{}: no out_features", path.display()))?;
    Ok(Some((out as usize, format!("{}: out_features", path.display()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(config: &str) -> (tempfile::TempDir, ModelFolder) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        let f = ModelFolder::new(dir.path());
        (dir, f)
    }

    #[test]
    fn bert_uses_its_whole_table_and_roberta_loses_the_padding_offset() {
        let (_d, f) = folder(r#"{"model_type": "bert", "max_position_embeddings": 512, "hidden_size": 384}"#);
        let l = ModelLimits::read(&f).unwrap().unwrap();
        assert_eq!((l.max_positions, l.output_dim), (Some(512), Some(384)));
        let (_d, f) = folder(
            r#"{"model_type": "xlm-roberta", "max_position_embeddings": 8194, "pad_token_id": 1, "hidden_size": 1024}"#,
        );
        let l = ModelLimits::read(&f).unwrap().unwrap();
        assert_eq!(l.max_positions, Some(8192));
        assert!(l.positions_source.contains("less the padding offset 2 (xlm-roberta)"), "{}", l.positions_source);
    }

    #[test]
    fn a_dense_head_sets_the_output_dimension() {
        let (d, f) = folder(r#"{"model_type": "gemma3_text", "max_position_embeddings": 2048, "hidden_size": 768}"#);
        std::fs::write(
            d.path().join("modules.json"),
            r#"[{"path": "", "type": "sentence_transformers.models.Transformer"},
                {"path": "2_Dense", "type": "sentence_transformers.models.Dense"},
                {"path": "3_Dense", "type": "sentence_transformers.models.Dense"}]"#,
        )
        .unwrap();
        for (dir, out) in [("2_Dense", 3072), ("3_Dense", 512)] {
            std::fs::create_dir(d.path().join(dir)).unwrap();
            std::fs::write(d.path().join(dir).join("config.json"), format!(r#"{{"out_features": {out}}}"#)).unwrap();
        }
        let l = ModelLimits::read(&f).unwrap().unwrap();
        assert_eq!(l.output_dim, Some(512));
        assert!(l.output_source.ends_with("3_Dense/config.json: out_features"), "{}", l.output_source);
    }
}
