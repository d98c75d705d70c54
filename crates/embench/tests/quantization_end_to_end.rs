//! Quantised variants and the retrieval-agreement check, end to end on the converted
//! default model (real weights, so recall@10 means something): ONNX Runtime's fp16
//! and dynamic int8 variants run, their records carry the agreement with
//! sentence-transformers' fp32 vectors of the 2 000-sentence corpus, the bound
//! invalidates a cell below it (read from the cache the first run left), a stale
//! variant is refused at load, and bad quality settings are refused at validate.

mod common;

use common::{embench, models_yaml, repo, run, validate_results, write};
use predicates::prelude::*;

const SCENARIO: &str = "test_scenarios:\n  - name: b4\n    concurrency: 1\n    num_requests: 6\n    batch_size: 4\ninput_config:\n  sequence_lengths: [32]\n  warmup_requests: 1\n";
const BACKENDS: &str = "backends:\n  - {name: ort, label: ort-fp16, precision: fp16, threads: 2}\n  - {name: ort, label: ort-int8, precision: int8, threads: 2, ort: {quantization: dynamic}}\n  - {name: openvino, label: openvino-int8, precision: int8, threads: 2}\n  - {name: tch, label: tch-int8, precision: int8, threads: 2}\n  - {name: python-torch, label: python-torch-int8, precision: int8, threads: 2}\n";

/// Runs the two ort variants with `quality` (a config section); returns the directory
/// (its `run/` holds the run), the records, stderr and whether the run succeeded.
fn run_quality(quality: &str) -> (tempfile::TempDir, Vec<serde_json::Value>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(dir.path(), "bench.yaml", &format!("active_models: [minilm]\n{BACKENDS}{quality}{SCENARIO}"));
    let out = dir.path().join("run");
    let assert = run(&config, &out);
    let ok = assert.get_output().status.success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let records = validate_results(&out);
    (dir, records, stderr, ok)
}

#[test]
fn fp16_and_int8_variants_carry_their_retrieval_agreement_and_the_bound_judges_it() {
    let (dir, records, stderr, ok) = run_quality("quality:\n  min_recall_at_10: {int8: 0.6, fp16: 0.99}\n");
    assert!(ok, "{stderr}");
    let [fp16, ort8, ov8, tch8, py8] = &records[..] else { panic!("five records: {records:#?}") };
    // What ran, read back: the precision and the variant's file, hash and how it computes.
    assert_eq!(fp16["precision"], "fp16");
    let variant = |r: &serde_json::Value| r["backend_settings"]["variant"].as_str().unwrap_or_default().to_string();
    assert!(variant(fp16).starts_with("fp16: model_fp16.onnx (sha256 "), "{fp16:#}");
    assert!(variant(ort8).contains("model_int8_dynamic.onnx") && variant(ort8).contains("MatMulInteger"), "{ort8:#}");
    // OpenVINO's int8 IR: NNCF's, its compiled runtime graph's matrix layers in u8/i8.
    assert!(variant(ov8).contains("model_int8.xml") && variant(ov8).contains("FullyConnected u8"), "{ov8:#}");
    assert!(variant(ov8).contains("by nncf.quantize"), "{ov8:#}");
    assert!(variant(tch8).contains("model_int8.pt") && variant(tch8).contains("quantized::linear_dynamic"), "{tch8:#}");
    assert!(py8["backend_settings"]["quantization"].as_str().unwrap().contains("quantize_dynamic"), "{py8:#}");
    let recall = |r: &serde_json::Value| r["retrieval"]["recall_at_10"].as_f64().unwrap();
    for r in [fp16, ort8, ov8, tch8, py8] {
        assert_eq!(r["valid"], true, "{r:#}");
        assert_eq!(r["precision"], if r == fp16 { "fp16" } else { "int8" }, "{r:#}");
        let q = &r["retrieval"];
        assert_eq!((q["sentences"].as_u64(), q["queries"].as_u64()), (Some(2000), Some(100)), "{q:#}");
        assert!(q["corpus"].as_str().unwrap().contains("State of the Union"), "{q:#}");
        assert_eq!(q["non_finite"], 0);
        if r != fp16 {
            // int8 keeps most of fp32's neighbours but not all (all-MiniLM-L6-v2: 0.87
            // for ONNX Runtime's dynamic int8, cosines to fp32 about 0.98 at worst).
            assert!(recall(r) >= 0.6 && recall(r) < 0.99, "{r:#}");
            assert!(q["cosine_min"].as_f64().unwrap() > 0.8 && q["spearman"].as_f64().unwrap() > 0.9, "{r:#}");
            assert_eq!(q["threshold"], 0.6);
        }
    }
    // fp16 keeps fp32's neighbours.
    assert!(recall(fp16) >= 0.99, "{fp16:#}");
    // tch runs the traced export of the very quantisation python-torch applies at load:
    // the two agree with fp32 alike (an independent check of the export).
    assert!((recall(tch8) - recall(py8)).abs() <= 0.02, "tch {} vs python-torch {}", recall(tch8), recall(py8));
    let first = recall(ort8);
    // The report puts each variant's speed-up over fp32 beside the quality it kept
    // (no fp32 cell in this run: it says so).
    let report = common::report(dir.path(), &dir.path().join("run"));
    assert!(report.contains("### Speed and quality"), "{report}");
    assert!(report.contains("| ort-int8 | int8 | 4 |") && report.contains("- (no fp32 cell)"), "{report}");
    // And the speed-vs-quality chart: one point per backend and precision, the front marked.
    assert!(report.contains("speed vs quality at batch 4"), "{report}");
    assert!(dir.path().join("report/charts/minilm_seq32_speed_vs_quality_b4.png").is_file());

    // A tighter bound: the int8 cells are invalid with their figures, from the cache this time.
    let (_dir, records, stderr, ok) = run_quality("quality:\n  min_recall_at_10: {int8: 0.99}\n");
    assert!(!ok, "an invalid cell fails the run");
    let ort8 = &records[1];
    assert_eq!(ort8["valid"], false);
    assert_eq!(ort8["retrieval"]["cached"], true, "{ort8:#}");
    assert_eq!(recall(ort8), first);
    let problems = ort8["invalid_reason"].to_string();
    assert!(problems.contains("retrieval agreement below the bound: recall@10"), "{problems}");
    assert!(problems.contains("quality.min_recall_at_10.int8"), "{problems}");
    assert!(stderr.contains("retrieval agreement below the bound"), "{stderr}");
}

#[test]
fn stale_and_failed_variants_are_refused_at_load_with_the_reason_and_the_fix() {
    // A copy of the tiny XLM-RoBERTa folder whose model.onnx changed after quantisation,
    // and whose OpenVINO int8 IR NNCF could not make (recorded as the quantiser records it).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tiny");
    copy_dir(&repo().join("models/tiny-xlm-roberta"), &root);
    let onnx = root.join("onnx/model.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    bytes.push(0);
    std::fs::write(&onnx, bytes).unwrap();
    let record = root.join("openvino/variants.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    json["variants"]["int8-static"] = serde_json::json!({"path": "model_int8.xml", "tool": "nncf.quantize (test)",
        "failed": "Exception from src/inference/src/cpp/core.cpp:117:\nCheck 'constant_fold' failed\n"});
    std::fs::write(&record, json.to_string()).unwrap();
    write(
        dir.path(),
        "models.yaml",
        "models:\n  tiny:\n    name: t\n    type: text_embedding\n    huggingface_id: \"-\"\n    path: tiny\n    architecture: xlm-roberta\n    max_seq_length: 512\n    embedding_dim: 32\n    params: 0.05M\n    multilingual: true\n",
    );
    let config = write(
        dir.path(),
        "bench.yaml",
        &format!(
            "active_models: [tiny]\nbackends:\n  - {{name: ort, precision: int8, threads: 1}}\n  - {{name: openvino, precision: int8, threads: 1}}\n{SCENARIO}"
        ),
    );
    let out = dir.path().join("run");
    run(&config, &out).failure();
    let records = validate_results(&out);
    let problems = records[0]["invalid_reason"].to_string();
    assert!(problems.contains("model_int8_dynamic.onnx: stale: made from a "), "{problems}");
    assert!(problems.contains("onnx/model.onnx of sha256"), "{problems}");
    assert!(problems.contains("fix: scripts/convert_models.sh tiny makes it"), "{problems}");
    let problems = records[1]["invalid_reason"].to_string();
    assert!(
        problems.contains("nncf.quantize (test) could not make the int8-static variant of model 'tiny'"),
        "{problems}"
    );
    assert!(problems.contains("Check 'constant_fold' failed"), "{problems}");
    assert!(problems.contains("fix: leave this precision out"), "{problems}");
}

#[test]
fn quality_settings_and_quantization_without_int8_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "bench.yaml",
        &format!(
            "active_models: [minilm]\nbackends:\n  - {{name: ort, ort: {{quantization: static}}}}\nquality:\n  min_recall_at_10: {{int8: 1.5}}\n{SCENARIO}"
        ),
    );
    embench()
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .failure()
        .stderr(predicate::str::contains("backends[0].ort.quantization"))
        .stderr(predicate::str::contains("quantization applies to precision int8 only"))
        .stderr(predicate::str::contains("set 'precision: int8'"))
        .stderr(predicate::str::contains("quality.min_recall_at_10.int8"))
        .stderr(predicate::str::contains("recall@10 bound 1.5 is not a share"));
    // candle has no int8 path: refused at validate, not skipped in silence.
    let config = write(
        dir.path(),
        "candle.yaml",
        &format!("active_models: [minilm]\nbackends:\n  - {{name: candle, precision: int8}}\n{SCENARIO}"),
    );
    embench()
        .args(["validate", "--config"])
        .arg(&config)
        .assert()
        .failure()
        .stderr(predicate::str::contains("int8"))
        .stderr(predicate::str::contains("candle"));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
