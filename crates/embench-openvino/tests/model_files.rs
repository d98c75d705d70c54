//! The files the openvino backend reads are its own to name: validation asks it,
//! per `model_format`, and a missing one is a models.yaml error with the fix.

use embench_core::config::{load_config, ConfigError};
use embench_core::model_files::ModelFolder;
use embench_core::{Architecture, Backend, BackendCatalog, BackendKind};
use embench_openvino::OpenvinoBackend;

/// A build with only the openvino backend, its runtime taken as usable.
struct OpenvinoOnly;

impl BackendCatalog for OpenvinoOnly {
    fn unusable(&self, _kind: BackendKind) -> Option<String> {
        None
    }

    fn architectures(&self, _kind: BackendKind) -> Option<&'static [Architecture]> {
        OpenvinoBackend.architectures()
    }

    fn model_files(
        &self,
        folder: &ModelFolder,
        backend: &embench_core::config::ResolvedBackend,
    ) -> Vec<std::path::PathBuf> {
        OpenvinoBackend.model_files(folder, backend)
    }

    fn backend(&self, kind: BackendKind) -> Option<&'static dyn Backend> {
        (kind == BackendKind::Openvino).then_some(&OpenvinoBackend as &'static dyn Backend)
    }
}

#[test]
fn converted_files_are_checked_per_backend_setting() {
    let dir = tempfile::tempdir().unwrap();
    let models = "models:\n  minilm:\n    name: MiniLM\n    type: text_embedding\n    huggingface_id: x/minilm\n    path: minilm\n    max_seq_length: 256\n    embedding_dim: 384\n    params: 22.7M\n    multilingual: false\n";
    std::fs::write(dir.path().join("models.yaml"), models).unwrap();
    let folder = dir.path().join("minilm");
    std::fs::create_dir_all(folder.join("openvino")).unwrap();
    std::fs::write(folder.join("tokenizer.json"), "x").unwrap();
    std::fs::write(folder.join("openvino/model_fp32.xml"), "x").unwrap();
    std::fs::write(folder.join("openvino/model_fp32.bin"), "x").unwrap();
    let config_json = r#"{"model_type": "bert", "max_position_embeddings": 512, "hidden_size": 384}"#;
    std::fs::write(folder.join("config.json"), config_json).unwrap();
    let bench = |backend: &str, strict: bool| {
        let p = dir.path().join("bench.yaml");
        let text = format!("active_models: [minilm]\nstrict: {strict}\nbackends:\n{backend}test_scenarios:\n  - name: s\n    concurrency: 1\n    num_requests: 10\n    batch_size: 1\ninput_config:\n  sequence_lengths: [32]\n  warmup_requests: 1\n");
        std::fs::write(&p, text).unwrap();
        load_config(&p, &OpenvinoOnly).map_err(|e| e.0)
    };
    bench("  - name: openvino\n", true).expect("the fp32 IR is there");
    // The fp16 IR is not: its cells are skipped, with the files and the command.
    let fp16 = "  - name: openvino\n    openvino: {model_format: ir_fp16}\n";
    let skipped = bench(fp16, false).expect("skipped, not refused");
    let why = skipped.skips[0].reason.as_str();
    assert!(why.contains("openvino/model_fp16.xml") && why.contains("convert_models.sh --models-file"), "{why}");
    // `strict: true` refuses it, naming models.yaml's `path`.
    let errors: Vec<ConfigError> = bench(fp16, true).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!((e.file.clone(), e.line, e.column), (dir.path().join("models.yaml"), Some(6), Some(11)), "{e}");
    assert_eq!(e.field, "models.minilm.path");
    assert!(e.message.contains("openvino/model_fp16.xml") && e.message.contains("model_fp16.bin"), "{e}");
    assert!(e.fix.as_deref().unwrap().contains("convert_models.sh --models-file"), "{e}");
}
