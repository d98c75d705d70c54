//! What the config tests share: the backend crates that read their own settings, and
//! a folder with models.yaml, a model candle can read, and a good config to vary.

#![allow(dead_code)] // each test file uses some of it

use std::path::{Path, PathBuf};

use embench_core::config::{load_config, ConfigError, LoadedConfig, ResolvedBackend};
use embench_core::model_files::ModelFolder;
use embench_core::{Backend, BackendCatalog, BackendKind, Crates};

/// The backend crate of `kind` among those with settings of their own (and candle).
pub fn crate_of(kind: BackendKind) -> Option<&'static dyn Backend> {
    match kind {
        BackendKind::Mock => Some(&embench_mock::MockBackend),
        BackendKind::Candle => Some(&embench_candle::CandleBackend),
        BackendKind::Ort => Some(&embench_ort::OrtBackend),
        BackendKind::OrtNative => Some(&embench_ort_native::backend::OrtNativeBackend),
        BackendKind::Openvino => Some(&embench_openvino::OpenvinoBackend),
        BackendKind::Http => Some(&embench_http::HttpBackend),
        k if k.is_python() => embench_python::backend::backend(k).map(|b| b as &'static dyn Backend),
        _ => None,
    }
}

/// Every backend crate above, each taken as usable.
pub const CRATES: Crates = Crates(crate_of);

pub const MODELS: &str = "\
models:
  minilm:
    name: MiniLM
    type: text_embedding
    huggingface_id: sentence-transformers/all-MiniLM-L6-v2
    path: minilm
    max_seq_length: 256
    embedding_dim: 384
    params: 22.7M
    multilingual: false
";

pub const GOOD: &str = "\
active_models: [minilm]
backends:
  - name: candle
test_scenarios:
  - name: single
    concurrency: 2
    num_requests: 10
    batch_size: 1
input_config:
  sequence_lengths: [32, natural]
  warmup_requests: 1
";

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A temp dir with models.yaml and a model folder holding every file candle needs.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("models.yaml"), MODELS).unwrap();
        let folder = dir.path().join("minilm");
        std::fs::create_dir(&folder).unwrap();
        for f in ["model.safetensors", "tokenizer.json"] {
            std::fs::write(folder.join(f), "x").unwrap();
        }
        // What validation reads of the model: its position table and hidden size.
        let config = r#"{"model_type": "bert", "max_position_embeddings": 512, "hidden_size": 384}"#;
        std::fs::write(folder.join("config.json"), config).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn load(&self, config: &str) -> Result<LoadedConfig, Vec<ConfigError>> {
        self.load_with(config, &CRATES)
    }

    pub fn load_with(&self, config: &str, catalog: &dyn BackendCatalog) -> Result<LoadedConfig, Vec<ConfigError>> {
        let p = self.path("bench.yaml");
        std::fs::write(&p, config).unwrap();
        load_config(&p, catalog).map_err(|e| e.0)
    }

    /// Loads `config`, expecting exactly one error.
    pub fn one_error(&self, config: &str) -> ConfigError {
        self.one_error_with(config, &CRATES)
    }

    /// Loads `config` with `catalog`, expecting exactly one error.
    pub fn one_error_with(&self, config: &str, catalog: &dyn BackendCatalog) -> ConfigError {
        let errors = self.load_with(config, catalog).expect_err("config should be rejected");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().unwrap()
    }
}

/// The model files each backend names ([`Backend::model_files`]), as the binary's catalog asks them.
pub struct BackendsName;

impl BackendCatalog for BackendsName {
    fn unusable(&self, _kind: BackendKind) -> Option<String> {
        None
    }

    fn model_files(&self, folder: &ModelFolder, backend: &ResolvedBackend) -> Vec<PathBuf> {
        match backend.kind {
            BackendKind::Candle => embench_candle::CandleBackend.model_files(folder, backend),
            kind if kind.is_python() => {
                embench_python::backend::backend(kind).expect("a python kind").model_files(folder, backend)
            }
            other => panic!("no test here asks for {other}'s files"),
        }
    }

    fn backend(&self, kind: BackendKind) -> Option<&'static dyn embench_core::Backend> {
        crate_of(kind)
    }
}

pub fn assert_at(e: &ConfigError, file: &Path, line: u64, column: u64, field: &str) {
    assert_eq!(e.file, file, "{e}");
    assert_eq!((e.line, e.column), (Some(line), Some(column)), "{e}");
    assert_eq!(e.field, field, "{e}");
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("{}:{line}:{column}: field '{field}'", file.display())), "{shown}");
}
