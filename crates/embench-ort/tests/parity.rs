//! ONNX Runtime embeddings of fixed sentences against sentence-transformers' vectors
//! (the shared body: `embench_core::parity`). Needs the venv and the converted
//! model: `make test` prepares both.

use embench_core::parity::{minilm, require};
use embench_core::parity_test;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::Embedder;
use embench_ort::OrtOptions;
use embench_ort::{OrtEmbedder, OrtSettings};

fn load() -> OrtEmbedder {
    let file = minilm().onnx_model();
    require(&file);
    let pooling = Pooling { kind: PoolingKind::Mean, normalize: true };
    let settings =
        OrtSettings { threads: Some(2), options: OrtOptions { sessions: 2, ..OrtOptions::default() }, pooling };
    OrtEmbedder::load(&file, &settings).unwrap()
}

parity_test!(ort_matches_sentence_transformers, 0.9999, load() => |model, _cosines| {
    // The concurrent calls of the shared body went through this session pool.
    assert_eq!(model.sessions(), 2);
    assert!(model.info().framework_version.starts_with("onnxruntime 1.31.1"), "{}", model.info().framework_version);
});

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
