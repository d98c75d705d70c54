//! ONNX Runtime embeddings of fixed sentences against sentence-transformers' vectors.
//! Needs the venv and the converted model: `make test` prepares both.

use std::path::PathBuf;

use embench_core::config::OrtOptions;
use embench_core::model_files::ModelFolder;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::Embedder;
use embench_ort::{OrtEmbedder, OrtSettings};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn ort_matches_sentence_transformers() {
    let folder = ModelFolder::new(repo().join("models/all-minilm-l6-v2"));
    assert!(
        folder.onnx_model().is_file(),
        "{} is missing: run `make convert` (make test does it first)",
        folder.onnx_model().display()
    );
    let reference = ReferenceSet::from_file(&repo().join("tests/fixtures/all-minilm-l6-v2_reference.json")).unwrap();
    let pooling = Pooling { kind: PoolingKind::Mean, normalize: true };
    let settings =
        OrtSettings { threads: Some(2), options: OrtOptions { sessions: 2, ..OrtOptions::default() }, pooling };
    let model = OrtEmbedder::load(&folder.onnx_model(), &settings).unwrap();
    assert_eq!(model.sessions(), 2);
    assert!(model.info().framework_version.starts_with("onnxruntime 1.31.1"), "{}", model.info().framework_version);
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 256).unwrap();
    let cosines = reference.cosines(&model, &tokenizer).unwrap();
    println!("ort vs sentence-transformers cosines: {cosines:?}");
    for (sentence, c) in reference.sentences.iter().zip(&cosines) {
        assert!(*c >= 0.9999, "cosine {c} < 0.9999 for {sentence:?}");
    }
    // Concurrent requests through the session pool give the same vectors.
    let alone = reference.cosines(&model, &tokenizer).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| reference.cosines(&model, &tokenizer).unwrap())).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    });
}

#[test]
fn a_missing_library_is_an_error_not_a_panic() {
    // Runs in its own process (integration test binary) only when ORT_DYLIB_PATH is unset;
    // setting it here would race the other test, so check the locator directly.
    let err = embench_core::runtime_lib::locate(&embench_core::runtime_lib::WheelLibrary {
        env_var: "EMBENCH_TEST_MISSING_ORT",
        package_dir: "no-such-package",
        ..embench_ort::LIBRARY
    })
    .unwrap_err();
    assert!(err.contains("setup_environment.sh") && err.contains("EMBENCH_TEST_MISSING_ORT"), "{err}");
}
