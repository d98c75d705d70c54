//! `configs/architectures.yaml` as shipped: every architecture embench runs (tiny
//! models built offline by `make tiny-models`) on every backend that declares it,
//! at sequence lengths 32, 128 and natural, each cell valid with a min cosine of at
//! least 0.999 against sentence-transformers' vectors at the cell's own shape.

mod common;

use std::collections::BTreeSet;

use common::{repo, run, validate_results};

#[test]
fn every_architecture_runs_on_every_backend_that_declares_it() {
    let models = ["tiny-xlm-roberta", "tiny-qwen3", "tiny-gemma3"];
    for key in models {
        let folder = repo().join("models").join(key);
        assert!(
            folder.join("onnx/model.onnx").is_file() && folder.join("references/seq_32.json").is_file(),
            "{} is not built and converted: run `make tiny-models` (make test does it first)",
            folder.display()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run(&repo().join("configs/architectures.yaml"), &out).success();
    let records = validate_results(&out);
    let backends = ["candle", "ort", "ort-native", "openvino", "tch", "python-ort", "python-torch"];
    assert_eq!(records.len(), models.len() * backends.len() * 3, "one record per model, backend and length");
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
        seen.insert((
            r["model"].as_str().unwrap().to_string(),
            r["backend"].as_str().unwrap().to_string(),
            r["seq_len"].to_string(),
        ));
    }
    for m in models {
        for b in backends {
            for seq in ["32", "128", "\"natural\""] {
                assert!(
                    seen.contains(&(m.to_string(), b.to_string(), seq.to_string())),
                    "no {m} / {b} cell at seq {seq}"
                );
            }
        }
    }
}

/// `embench validate --config CONFIG`, which must fail; its stderr.
fn validate_fails(config: &std::path::Path) -> String {
    let assert = assert_cmd::Command::cargo_bin("embench")
        .unwrap()
        .args(["validate", "--config"])
        .arg(config)
        .assert()
        .failure();
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

/// A config running `tiny-qwen3` (and `extra` models) with `scenario` lines, written in `dir`.
fn prompt_config(dir: &std::path::Path, extra: &str, backends: &[&str], prompt: &str) -> std::path::PathBuf {
    let backends: String = backends.iter().map(|b| format!("  - name: {b}\n    threads: 2\n")).collect();
    let body = format!(
        "models_file: {}\nactive_models: [tiny-qwen3{extra}]\nbackends:\n{backends}test_scenarios:\n  - name: queries\n    concurrency: 1\n    num_requests: 6\n    batch_size: 4\n    prompt: {prompt}\ninput_config:\n  sequence_lengths: [48, natural]\n  warmup_requests: 1\n",
        repo().join("configs/models.yaml").display()
    );
    common::write(dir, "prompts.yaml", &body)
}

#[test]
fn a_scenario_prompt_goes_before_every_text_and_the_gate_uses_sentence_transformers_prompt_name() {
    let dir = tempfile::tempdir().unwrap();
    // Made on demand with the prompt (the conversion writes only prompt-less sets):
    // start without them, so this run makes them with sentence-transformers.
    let made = repo().join("models/tiny-qwen3/references/prompt-query");
    let _ = std::fs::remove_dir_all(&made);
    let config = prompt_config(dir.path(), "", &["candle", "ort", "python-torch"], "query");
    let out = dir.path().join("run");
    run(&config, &out).success();
    assert!(made.join("natural.json").is_file() && made.join("seq_48.json").is_file());
    let records = validate_results(&out);
    assert_eq!(records.len(), 3 * 2);
    for r in &records {
        let cell = format!("{} / seq {}", r["backend"], r["seq_len"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{cell}");
        assert_eq!(r["prompt"], "query", "{cell}");
        let prompt_tokens = r["prompt_tokens"].as_f64().unwrap_or_else(|| panic!("{cell}: no prompt_tokens"));
        // Qwen3-Embedding's query instruction is 15+ words: its tokens are in every input.
        assert!(prompt_tokens >= 15.0, "{cell}: {prompt_tokens}");
        assert!(r["tokens_per_input_mean"].as_f64().unwrap() > prompt_tokens, "{cell}");
    }
}

#[test]
fn a_prompt_a_model_lacks_is_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    // EmbeddingGemma's name for its query prompt; Qwen3-Embedding's are query and document.
    let config = prompt_config(dir.path(), "", &["ort"], "Retrieval-query");
    let err = validate_fails(&config);
    for part in [
        "prompts.yaml",
        "test_scenarios[0].prompt",
        "model 'tiny-qwen3' has no prompt 'Retrieval-query'",
        "config_sentence_transformers.json has: document, query",
        "fix:",
    ] {
        assert!(err.contains(part), "{part:?} missing from:\n{err}");
    }
}

#[test]
fn a_prompt_only_some_models_have_skips_the_others_and_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // EmbeddingGemma's task prompt; Qwen3-Embedding has only query and document.
    let config = prompt_config(dir.path(), ", tiny-gemma3", &["ort"], "Retrieval-query");
    let out = dir.path().join("run");
    run(&config, &out).success().stderr(predicates::str::contains(
        "model 'tiny-qwen3' in scenario 'queries' (2 cells): model 'tiny-qwen3' has no prompt 'Retrieval-query'",
    ));
    let records = validate_results(&out);
    assert_eq!(records.len(), 4);
    for r in &records {
        let cell = format!("{} / seq {}", r["model"], r["seq_len"]);
        match r["model"].as_str().unwrap() {
            "tiny-gemma3" => {
                assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
                assert_eq!(r["prompt"], "Retrieval-query", "{cell}");
            }
            _ => assert!(r["skipped"].as_str().unwrap().contains("has no prompt 'Retrieval-query'"), "{cell}"),
        }
    }
}

/// A models.yaml with `tiny-gemma3` at `embedding_dim: dim`, written in `dir`.
fn gemma_at(dir: &std::path::Path, dim: usize) -> std::path::PathBuf {
    let body = format!(
        "models:\n  gemma:\n    name: tiny Gemma 3\n    type: text_embedding\n    huggingface_id: \"-\"\n    path: {}\n    architecture: gemma3\n    max_seq_length: 512\n    embedding_dim: {dim}\n    params: 0.04M\n    multilingual: true\n",
        repo().join("models/tiny-gemma3").display()
    );
    common::write(dir, "models.yaml", &body);
    let config = "models_file: models.yaml\nactive_models: [gemma]\nbackends:\n  - name: candle\n    threads: 2\n  - name: ort\n    threads: 2\n  - name: python-torch\n    threads: 2\ntest_scenarios:\n  - name: queries\n    concurrency: 1\n    num_requests: 6\n    batch_size: 4\n    prompt: Retrieval-query\ninput_config:\n  sequence_lengths: [32]\n  warmup_requests: 1\n";
    common::write(dir, "bench.yaml", config)
}

#[test]
fn a_matryoshka_embedding_dim_truncates_and_the_gate_compares_sentence_transformers_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let config = gemma_at(dir.path(), 16);
    let out = dir.path().join("run");
    run(&config, &out).success();
    let records = validate_results(&out);
    assert_eq!(records.len(), 3);
    for r in &records {
        let cell = format!("{} / seq {}", r["backend"], r["seq_len"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{cell}");
        assert_eq!((r["truncate_dim"].as_u64(), r["prompt"].as_str()), (Some(16), Some("Retrieval-query")), "{cell}");
    }
    // Over the head's 32 values: refused, naming the field and the reachable sizes.
    let config = gemma_at(dir.path(), 64);
    let err = validate_fails(&config);
    for part in ["models.yaml", "models.gemma.embedding_dim", "embedding_dim 64 is not reachable", "3_Dense", "fix:"] {
        assert!(err.contains(part), "{part:?} missing from:\n{err}");
    }
}
