//! OpenVINO embeddings of fixed sentences against sentence-transformers' vectors,
//! for each file it can read (the shared body: `embench_core::parity`). Needs the
//! venv and the converted model (`make test` prepares both).

use embench_core::parity::{minilm, require};
use embench_core::parity_test;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::{Embedder, Precision};
use embench_openvino::{ModelFormat, OpenvinoOptions};
use embench_openvino::{OpenvinoEmbedder, OpenvinoSettings};

fn load(format: ModelFormat, precision: Precision) -> OpenvinoEmbedder {
    let folder = minilm();
    let file = match format {
        ModelFormat::IrFp32 => folder.openvino_ir(false),
        ModelFormat::IrFp16 => folder.openvino_ir(true),
        ModelFormat::Onnx => folder.onnx_model(),
    };
    require(&file);
    let settings = OpenvinoSettings {
        threads: Some(2),
        precision,
        options: OpenvinoOptions { model_format: format, infer_requests: Some(2), ..OpenvinoOptions::default() },
        pooling: Pooling { kind: PoolingKind::Mean, normalize: true },
    };
    OpenvinoEmbedder::load(&file, &settings).unwrap()
}

parity_test!(fp32_ir_matches_sentence_transformers, 0.9999, load(ModelFormat::IrFp32, Precision::Fp32) => |model, _cosines| {
    let info = model.info();
    assert_eq!(info.precision, Precision::Fp32);
    assert_eq!(info.settings["inference_precision"], "f32", "{:?}", info.settings);
    assert_eq!(model.infer_requests(), 2);
    assert!(info.framework_version.starts_with("2026.4.1"), "{}", info.framework_version);
});

parity_test!(onnx_read_directly_matches_too, 0.9999, load(ModelFormat::Onnx, Precision::Fp32));

parity_test!(fp16_weights_stay_within_the_reduced_precision_bound, 0.99, load(ModelFormat::IrFp16, Precision::Fp32));

parity_test!(bf16_records_what_actually_ran, 0.99, load(ModelFormat::IrFp32, Precision::Bf16) => |model, _cosines| {
    let info = model.info();
    let ran = info.settings["inference_precision"].as_str();
    // On CPUs without bf16 support OpenVINO runs f32 and says so; the record must not claim bf16.
    if ran == "f32" {
        assert_eq!(info.precision, Precision::Fp32);
        assert!(info.notes.iter().any(|n| n.contains("bf16 was asked for")), "{:?}", info.notes);
    } else {
        assert_eq!(ran, "bf16");
        assert_eq!(info.precision, Precision::Bf16);
        assert!(info.notes.is_empty());
    }
});
