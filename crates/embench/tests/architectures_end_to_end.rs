//! `configs/architectures.yaml` as shipped: every architecture embench runs (tiny
//! models built offline by `make tiny-models`) on every backend that declares it,
//! at sequence lengths 32, 128 and natural, each cell valid with a min cosine of at
//! least 0.999 against sentence-transformers' vectors at the cell's own shape.

mod common;

use std::collections::BTreeSet;

use common::{repo, run, validate_results};

#[test]
fn every_architecture_runs_on_every_backend_that_declares_it() {
    let folder = repo().join("models/tiny-xlm-roberta");
    assert!(
        folder.join("onnx/model.onnx").is_file() && folder.join("references/seq_32.json").is_file(),
        "{} is not built and converted: run `make tiny-models` (make test does it first)",
        folder.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run(&repo().join("configs/architectures.yaml"), &out).success();
    let records = validate_results(&out);
    let backends = ["candle", "ort", "openvino", "tch", "python-ort", "python-torch"];
    assert_eq!(records.len(), backends.len() * 3, "one record per backend and length");
    let mut seen = BTreeSet::new();
    for r in &records {
        let cell = format!("{} / {} / seq {}", r["model"], r["backend"], r["seq_len"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        let min = r["min_cosine"].as_f64().unwrap_or_else(|| panic!("{cell}: not gated"));
        assert!(min >= 0.999, "{cell}: min cosine {min}");
        assert_eq!(r["gate_threshold"], 0.999, "{cell}");
        assert!(
            r["warnings"].as_array().unwrap().iter().all(|w| !w.as_str().unwrap().contains("not checked")),
            "{cell}"
        );
        seen.insert((r["backend"].as_str().unwrap().to_string(), r["seq_len"].to_string()));
    }
    for b in backends {
        for seq in ["32", "128", "\"natural\""] {
            assert!(seen.contains(&(b.to_string(), seq.to_string())), "no {b} cell at seq {seq}");
        }
    }
}
