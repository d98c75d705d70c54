//! ONNX Runtime's C++ API (the ort-native worker) against sentence-transformers'
//! vectors (the shared body: `embench_core::parity`), and what it records. Needs the
//! venv, the converted model and the built worker: `make test` prepares all three
//! (the worker with scripts/build_ort_native.sh).

use embench_core::parity::{minilm, require};
use embench_core::parity_test;
use embench_core::pipe_worker::PipeEmbedder;
use embench_core::runtime_lib::{locate, ONNXRUNTIME};
use embench_core::{Embedder, Modality};
use embench_ort::OrtOptions;
use embench_ort_native::OrtNativeSettings;

fn settings() -> OrtNativeSettings {
    OrtNativeSettings {
        threads: 2,
        options: OrtOptions { sessions: 2, ..OrtOptions::default() },
        modality: Modality::Text,
        image_size: None,
    }
}

fn load() -> PipeEmbedder {
    let file = minilm().onnx_model();
    require(&file);
    let worker = embench_ort_native::worker().unwrap_or_else(|e| panic!("{e}"));
    println!("worker: {}", worker.display());
    embench_ort_native::load(&file, &locate(&ONNXRUNTIME).unwrap(), &settings()).unwrap()
}

parity_test!(ort_native_matches_sentence_transformers, 0.9999, load() => |model, _cosines| {
    let info = model.info();
    // The library the ort backend loads, read back by the worker from ONNX Runtime itself.
    assert!(info.framework_version.starts_with("onnxruntime 1.31.1 (C++ API, headers 1."), "{}", info.framework_version);
    let s = &info.settings;
    assert_eq!(s["graph_optimization"], "all");
    assert_eq!(s["execution_mode"], "sequential");
    assert_eq!(s["cpu_mem_arena"], "on");
    assert_eq!(s["output"], "sentence_embedding", "the head ran in the graph");
    assert!(s["library"].ends_with("libonnxruntime.so.1.31.1"), "{s:?}");
    assert!(s["sessions"].starts_with("2 "), "{s:?}");
    let api: u32 = s["c_api_version"].parse().unwrap();
    assert!((17..=31).contains(&api), "C API version {api}");
    assert_eq!(info.intra_op_threads, 2);
});

#[test]
fn a_broken_model_file_is_a_load_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.onnx");
    std::fs::write(&file, b"not an onnx graph").unwrap();
    let err = embench_ort_native::load(&file, &locate(&ONNXRUNTIME).unwrap(), &settings())
        .err()
        .expect("a broken model must not load");
    let msg = err.to_string();
    assert!(msg.contains("could not load") && msg.contains("model.onnx"), "{msg}");
}

#[test]
fn a_library_that_cannot_be_opened_or_is_not_onnx_runtime_is_refused_at_load() {
    let file = minilm().onnx_model();
    require(&file);
    let libm = embench_core::parity::not_a_runtime();
    let err = embench_ort_native::load(&file, &libm, &settings()).err().expect("libm is no ONNX Runtime");
    assert!(err.to_string().contains("has no OrtGetApiBase: not an ONNX Runtime library"), "{err}");
    let err = embench_ort_native::load(&file, std::path::Path::new("/no/such/libonnxruntime.so"), &settings())
        .err()
        .expect("no library, no worker");
    assert!(err.to_string().contains("dlopen"), "{err}");
}
