//! A model's architecture: read from its folder, checked against models.yaml and
//! against what each backend declares it runs; a head embench cannot run is refused.

use std::path::PathBuf;

use embench_core::config::{load_config, ConfigError, LoadedConfig};
use embench_core::{Architecture, BackendCatalog, BackendKind};

/// A catalog like a build with candle (BERT only) and ort (BERT and XLM-R).
struct TwoBackends;

impl BackendCatalog for TwoBackends {
    fn unusable(&self, _kind: BackendKind) -> Option<String> {
        None
    }

    fn architectures(&self, kind: BackendKind) -> Option<&'static [Architecture]> {
        match kind {
            BackendKind::Candle => Some(&[Architecture::Bert]),
            BackendKind::Ort => Some(&[Architecture::Bert, Architecture::XlmRoberta]),
            _ => None,
        }
    }
}

/// A temp dir with one model folder (`m`) whose config.json has `model_type`, and
/// a models.yaml whose entry has `architecture` (when given).
fn fixture(model_type: &str, architecture: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let arch = architecture.map(|a| format!("    architecture: {a}\n")).unwrap_or_default();
    let models = format!(
        "models:\n  m:\n    name: M\n    type: text_embedding\n    huggingface_id: x/m\n    path: m\n{arch}    max_seq_length: 128\n    embedding_dim: 32\n    params: 1M\n    multilingual: false\n"
    );
    std::fs::write(dir.path().join("models.yaml"), models).unwrap();
    let folder = dir.path().join("m");
    std::fs::create_dir_all(folder.join("onnx")).unwrap();
    for f in ["model.safetensors", "tokenizer.json", "onnx/model.onnx"] {
        std::fs::write(folder.join(f), "x").unwrap();
    }
    let config = format!(r#"{{"model_type": "{model_type}", "max_position_embeddings": 514, "hidden_size": 32}}"#);
    std::fs::write(folder.join("config.json"), config).unwrap();
    dir
}

fn load(dir: &tempfile::TempDir, backends: &[&str]) -> Result<LoadedConfig, Vec<ConfigError>> {
    load_with(dir, backends, "")
}

/// [`load`], with `extra` top-level lines (e.g. `strict: true`).
fn load_with(dir: &tempfile::TempDir, backends: &[&str], extra: &str) -> Result<LoadedConfig, Vec<ConfigError>> {
    let list: String = backends.iter().map(|b| format!("  - name: {b}\n")).collect();
    let config = format!(
        "active_models: [m]\n{extra}backends:\n{list}test_scenarios:\n  - name: s\n    concurrency: 1\n    batch_size: 1\n    num_requests: 10\ninput_config:\n  sequence_lengths: [32]\n  warmup_requests: 1\n"
    );
    let p: PathBuf = dir.path().join("bench.yaml");
    std::fs::write(&p, config).unwrap();
    load_config(&p, &TwoBackends).map_err(|e| e.0)
}

#[test]
fn the_architecture_comes_from_config_json() {
    let dir = fixture("xlm-roberta", None);
    let config = load(&dir, &["ort"]).unwrap();
    assert_eq!(config.models[0].architecture, Some(Architecture::XlmRoberta));
    let dir = fixture("gemma3_text", Some("gemma3"));
    let config = load(&dir, &["mock"]).unwrap();
    assert_eq!(config.models[0].architecture, Some(Architecture::Gemma3), "the mock runs any model");
}

#[test]
fn a_backend_refuses_an_architecture_it_does_not_declare() {
    let dir = fixture("xlm-roberta", Some("xlm-roberta"));
    // Its cells are skipped, with the reason; the other backend runs the model.
    let config = load(&dir, &["candle", "ort"]).unwrap();
    let seq = embench_core::config::SeqLen::Tokens(32);
    let why = config.skip_reason("m", "candle", "s", seq).expect("candle skips it");
    assert!(why.contains("backend 'candle' does not run xlm-roberta models"), "{why}");
    assert_eq!(config.skip_reason("m", "ort", "s", seq), None);
    // `strict: true` refuses the config instead.
    let errors = load_with(&dir, &["candle", "ort"], "strict: true\n").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let shown = errors[0].to_string();
    assert!(shown.contains("bench.yaml:1:"), "{shown}");
    assert!(shown.contains("field 'active_models[0]': backend 'candle' does not run xlm-roberta models"), "{shown}");
    assert!(shown.contains("candle runs: bert"), "{shown}");
    assert!(shown.contains("backends that run xlm-roberta: ort"), "{shown}");
}

#[test]
fn an_architecture_that_disagrees_with_config_json_names_both_files() {
    let dir = fixture("bert", Some("qwen3"));
    let errors = load(&dir, &["ort"]).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let shown = errors[0].to_string();
    assert!(shown.contains("models.yaml:7:"), "{shown}");
    assert!(shown.contains("architecture 'qwen3' disagrees with model_type 'bert'"), "{shown}");
    assert!(shown.contains("config.json"), "{shown}");
    assert!(shown.contains("set architecture: bert"), "{shown}");
}

#[test]
fn an_unknown_architecture_lists_the_known_ones() {
    let dir = fixture("bert", Some("bart"));
    let errors = load(&dir, &["ort"]).unwrap_err();
    let shown = errors[0].to_string();
    assert!(shown.contains("architecture 'bart' is not one embench knows"), "{shown}");
    assert!(shown.contains("bert, xlm-roberta, qwen3, gemma3, clip, siglip"), "{shown}");
}

#[test]
fn a_dense_head_an_old_export_would_skip_is_refused_not_skipped() {
    let dir = fixture("bert", None);
    let hf = dir.path().join("m");
    let modules = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#;
    std::fs::write(hf.join("modules.json"), modules).unwrap();
    std::fs::create_dir(hf.join("2_Dense")).unwrap();
    let dense = r#"{"in_features": 32, "out_features": 32, "bias": false, "activation_function": "torch.nn.modules.linear.Identity"}"#;
    std::fs::write(hf.join("2_Dense/config.json"), dense).unwrap();
    // An export of the network alone (converter < 5): ort would embed without the Dense layer.
    std::fs::write(hf.join("conversion.json"), r#"{"output": "last_hidden_state"}"#).unwrap();
    let errors = load(&dir, &["ort", "candle"]).unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let dense_error = shown.iter().find(|s| s.contains("1 Dense layer(s)")).expect("a Dense error");
    assert!(
        dense_error.contains("2_Dense: 32 -> 32") && dense_error.contains("so ort would embed without them"),
        "{dense_error}"
    );
    assert!(dense_error.contains("scripts/convert_models.sh --force m"), "{dense_error}");
    // The head in the graph (converter 5), or candle alone (it runs the head itself): accepted.
    std::fs::write(hf.join("conversion.json"), r#"{"output": "sentence_embedding"}"#).unwrap();
    load(&dir, &["ort", "candle"]).unwrap();
    std::fs::write(hf.join("conversion.json"), r#"{"output": "last_hidden_state"}"#).unwrap();
    load(&dir, &["candle"]).unwrap();
    // An activation candle's head does not run: refused for candle, naming the file.
    let tanh = dense.replace("torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Tanh");
    std::fs::write(hf.join("2_Dense/config.json"), &tanh).unwrap();
    let shown: Vec<String> = load(&dir, &["candle"]).unwrap_err().iter().map(|e| e.to_string()).collect();
    assert!(
        shown.iter().any(|s| s.contains("2_Dense/config.json: activation_function 'torch.nn.modules.activation.Tanh'")),
        "{shown:#?}"
    );
    // Dense sizes that do not chain (the network's hidden size is 32).
    std::fs::write(hf.join("2_Dense/config.json"), dense.replace("\"in_features\": 32", "\"in_features\": 48"))
        .unwrap();
    let shown: Vec<String> = load(&dir, &["ort"]).unwrap_err().iter().map(|e| e.to_string()).collect();
    assert!(
        shown.iter().any(|s| s.contains("in_features 48 does not chain") && s.contains("hidden_size is 32")),
        "{shown:#?}"
    );
}

#[test]
fn a_module_embench_does_not_run_is_refused_by_name() {
    let dir = fixture("bert", None);
    let modules = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_LayerNorm", "type": "sentence_transformers.models.LayerNorm"}]"#;
    std::fs::write(dir.path().join("m/modules.json"), modules).unwrap();
    let errors = load(&dir, &["ort"]).unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        shown.iter().any(|s| s.contains("module 'sentence_transformers.models.LayerNorm' is not one embench runs")),
        "{shown:#?}"
    );
    // The mock loads no model: the pipeline is none of its business.
    load(&dir, &["mock"]).unwrap();
}
