//! OpenVINO embeddings of fixed sentences against sentence-transformers' vectors,
//! for each file it can read. Needs the venv and the converted model (`make test` prepares both).

use std::path::PathBuf;

use embench_core::config::{ModelFormat, OpenvinoOptions};
use embench_core::model_files::ModelFolder;
use embench_core::pooling::{Pooling, PoolingKind};
use embench_core::reference::ReferenceSet;
use embench_core::tokenize::TextTokenizer;
use embench_core::{Embedder, Precision};
use embench_openvino::{OpenvinoEmbedder, OpenvinoSettings};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cosines(format: ModelFormat, precision: Precision) -> (Vec<f32>, OpenvinoEmbedder) {
    let folder = ModelFolder::new(repo().join("models/all-minilm-l6-v2"));
    let file = match format {
        ModelFormat::IrFp32 => folder.openvino_ir(false),
        ModelFormat::IrFp16 => folder.openvino_ir(true),
        ModelFormat::Onnx => folder.onnx_model(),
    };
    assert!(file.is_file(), "{} is missing: run `make convert` (make test does it first)", file.display());
    let settings = OpenvinoSettings {
        threads: Some(2),
        precision,
        options: OpenvinoOptions { model_format: format, infer_requests: Some(2), ..OpenvinoOptions::default() },
        pooling: Pooling { kind: PoolingKind::Mean, normalize: true },
    };
    let model = OpenvinoEmbedder::load(&file, &settings).unwrap();
    let reference = ReferenceSet::from_file(&repo().join("tests/fixtures/all-minilm-l6-v2_reference.json")).unwrap();
    let tokenizer = TextTokenizer::from_file(&folder.tokenizer_json(), 256).unwrap();
    (reference.cosines(&model, &tokenizer).unwrap(), model)
}

fn assert_at_least(cosines: &[f32], floor: f32, what: &str) {
    println!("{what} vs sentence-transformers cosines: {cosines:?}");
    for c in cosines {
        assert!(*c >= floor, "{what}: cosine {c} < {floor}");
    }
}

#[test]
fn fp32_ir_matches_sentence_transformers() {
    let (c, model) = cosines(ModelFormat::IrFp32, Precision::Fp32);
    assert_at_least(&c, 0.9999, "fp32 IR");
    let info = model.info();
    assert_eq!(info.precision, Precision::Fp32);
    assert_eq!(info.settings["inference_precision"], "f32", "{:?}", info.settings);
    assert_eq!(model.infer_requests(), 2);
    assert!(info.framework_version.starts_with("2026.4.1"), "{}", info.framework_version);
}

#[test]
fn onnx_read_directly_matches_too() {
    let (c, _) = cosines(ModelFormat::Onnx, Precision::Fp32);
    assert_at_least(&c, 0.9999, "ONNX through OpenVINO");
}

#[test]
fn fp16_weights_stay_within_the_reduced_precision_bound() {
    let (c, _) = cosines(ModelFormat::IrFp16, Precision::Fp32);
    assert_at_least(&c, 0.99, "fp16-weight IR");
}

#[test]
fn bf16_records_what_actually_ran() {
    let (c, model) = cosines(ModelFormat::IrFp32, Precision::Bf16);
    assert_at_least(&c, 0.99, "bf16 asked");
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
}
