//! The original design's two config files (`tests/fixtures/design/`, its "Test
//! Configuration" YAML byte for byte) validate and run as written: every framework
//! when `backends` is omitted, each model's lengths bounded by its own maximum, and
//! models that are not fetched SKIPPED with the command that fetches them.

mod common;

use common::{embench, repo, validate_results, write};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/design").join(name)).unwrap()
}

/// `dir/design/`, holding `models` as models.yaml and `bench` as benchmark_config.yaml;
/// returns the config. A model without `path` is then looked for in `dir/models/`
/// (`../models/<key>`), which nothing else shares.
fn design_copy(dir: &std::path::Path, models: &str, bench: &str) -> std::path::PathBuf {
    let design = dir.join("design");
    std::fs::create_dir_all(&design).unwrap();
    write(&design, "models.yaml", models);
    write(&design, "benchmark_config.yaml", bench)
}

/// The design's own text, not an adapted copy: no folders, no backends, its lengths.
#[test]
fn the_fixtures_are_the_designs_text() {
    let models = fixture("models.yaml");
    let bench = fixture("benchmark_config.yaml");
    assert!(models.starts_with("# models.yaml - Model configurations\nmodels:\n"), "{models}");
    assert!(bench.starts_with("# benchmark_config.yaml - Benchmark settings\nactive_models:\n"), "{bench}");
    for (text, absent) in [(&models, "path:"), (&models, "architecture:"), (&bench, "backends"), (&bench, "strict")] {
        assert!(!text.contains(absent), "the design's file has no '{absent}'");
    }
    assert!(bench.contains("sequence_lengths: [32, 128, 512]"));
    assert!(models.contains("modalities: [\"text\", \"image\"]"));
}

#[test]
fn the_designs_files_validate_as_written_listing_what_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let config = design_copy(dir.path(), &fixture("models.yaml"), &fixture("benchmark_config.yaml"));
    embench().arg("validate").arg(&config).assert().success().stdout(
        contains("OK (5 model(s), 8 backend(s), 5 scenario(s), 3 sequence length(s): 600 cells)")
            .and(contains(
                "backends: not listed, so every framework: candle, ort, ort-native, openvino, tch, python-ort, python-torch, python-openvino",
            ))
            .and(contains("SKIPPED: 600 of 600 cells cannot run here"))
            // Not fetched: the command that fetches and converts it, on this models file.
            .and(contains("model 'bge-m3' has no folder"))
            .and(contains("fetch BAAI/bge-m3 from the Hugging Face Hub and convert it: `embench run --fetch --config"))
            .and(contains("scripts/convert_models.sh --models-file"))
            // CLIP's 77 tokens: its longer lengths skipped with the limit and its source.
            .and(contains("model 'clip' at sequence length 128 (40 cells): sequence length 128 is over model 'clip''s maximum of 77"))
            .and(contains("models.yaml: models.clip.max_seq_length"))
            .and(contains("model 'siglip' at sequence length 512"))
            // CLIP and SigLIP are fetched like any model now that their towers run.
            .and(contains("model 'clip' has no folder"))
            .and(contains("fetch openai/clip-vit-base-patch16 from the Hugging Face Hub"))
            .and(contains("SKIPPED (reason above)")),
    );
}

#[test]
fn strict_turns_the_skips_into_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bench = format!("{}strict: true\n", fixture("benchmark_config.yaml"));
    let config = design_copy(dir.path(), &fixture("models.yaml"), &bench);
    embench().arg("validate").arg(&config).assert().failure().code(2).stderr(
        contains(
            "field 'input_config.sequence_lengths[1]': sequence length 128 is over model 'siglip''s maximum of 64",
        )
        .and(contains("model 'embeddinggemma-300m' has no folder"))
        .and(contains("(fix: fetch google/embeddinggemma-300m from the Hugging Face Hub")),
    );
}

/// The design's models.yaml with each model's folder set to the tiny model of its
/// architecture (and `embedding_dim` to the tiny one's: 16 for EmbeddingGemma's
/// Matryoshka truncation, as the design's 256 of 768).
fn with_tiny_models(models: &str) -> String {
    let tiny = [
        ("embeddinggemma-300m", "tiny-gemma3", 16),
        ("qwen3-embedding-600m", "tiny-qwen3", 32),
        ("bge-m3", "tiny-xlm-roberta", 32),
        ("clip", "tiny-clip", 16),
        ("siglip", "tiny-siglip", 32),
    ];
    let mut out = String::new();
    let mut key = "";
    for line in models.lines() {
        if let Some(k) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            key = if k.starts_with(' ') || k.starts_with('#') { key } else { k };
        }
        match tiny.iter().find(|(k, _, _)| *k == key) {
            Some((_, folder, dim)) if line.trim_start().starts_with("embedding_dim:") => {
                out.push_str(&format!("    embedding_dim: {dim}\n"));
                out.push_str(&format!("    path: {}\n", repo().join("models").join(folder).display()));
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

#[test]
fn the_designs_files_run_every_cell_they_can_with_tiny_models_in_place_of_the_real_ones() {
    let dir = tempfile::tempdir().unwrap();
    let models = with_tiny_models(&fixture("models.yaml"));
    assert_eq!(models.matches("    path: ").count(), 5, "{models}");
    // The design's request counts, smaller: what is proven here is which cells run.
    let mut bench = fixture("benchmark_config.yaml").replace("warmup_requests: 100", "warmup_requests: 2");
    for n in ["1000", "5000", "10000", "20000", "500"] {
        bench = bench.replace(&format!("num_requests: {n}\n"), "num_requests: 64\n");
    }
    let config = design_copy(dir.path(), &models, &bench);
    embench().arg("validate").arg(&config).assert().success().stdout(
        contains("SKIPPED: 160 of 600 cells cannot run here")
            // The tiny models' position tables (512) bound them, not the design's 8192.
            .and(contains("sequence length 512 is over model 'bge-m3'").not()),
    );
    // Every model and framework at every length, in the batched scenario (the full
    // design takes minutes here; the closing note of issue 26 gives that run).
    let out = dir.path().join("run");
    let assert = embench()
        .args(["run", "--scenario", "batch_processing", "--out"])
        .arg(&out)
        .arg(&config)
        .assert()
        .success()
        .stderr(contains("32 of 120 cells SKIPPED, not measured").and(contains("INVALID").not()));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("warning:") && stderr.contains("max_seq_length 8192 is over the 512 positions"),
        "{stderr}"
    );
    let records = validate_results(&out);
    assert_eq!(records.len(), 5 * 8 * 3);
    let (skipped, ran): (Vec<_>, Vec<_>) = records.iter().partition(|r| r["skipped"].is_string());
    // The three text models at every length, CLIP (77 positions) and SigLIP (64) at 32 only.
    assert_eq!(ran.len(), 3 * 8 * 3 + 2 * 8);
    for r in &ran {
        let cell = format!("{} / {} / seq {}", r["model"], r["backend"], r["seq_len"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{cell}");
    }
    let embedding_gemma = ran.iter().find(|r| r["model"] == "embeddinggemma-300m").unwrap();
    assert_eq!(embedding_gemma["truncate_dim"], 16);
    for r in &skipped {
        assert!(["siglip", "clip"].contains(&r["model"].as_str().unwrap()), "{r}");
        let why = r["skipped"].as_str().unwrap();
        assert!(why.contains("is over model"), "{why}");
    }
    let report = common::report(dir.path(), &out);
    assert!(report.contains("Not measured (every cell SKIPPED; why in its section): siglip at 128"), "{report}");
    assert!(report.contains("All 8 cells SKIPPED, not measured: sequence length 128 is over model 'clip'"), "{report}");
    assert!(report.contains("backends: not listed, so every framework"), "{report}");
}

/// `--fetch` where a model cannot be fetched (here: no Hub id to fetch from): the
/// script's failure is said, that model's cells stay SKIPPED, the rest runs.
#[test]
fn a_fetch_that_fails_leaves_the_models_cells_skipped_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let models = format!(
        "models:\n  minilm:\n    path: {}\n    max_seq_length: 256\n    embedding_dim: 384\n  unreachable:\n    type: embedding\n    max_seq_length: 512\n    embedding_dim: 768\n",
        repo().join("models/all-minilm-l6-v2").display()
    );
    let config = design_copy(
        dir.path(),
        &models,
        "active_models: [minilm, unreachable]\nbackends: [ort]\ntest_scenarios:\n  - {name: one, concurrency: 1, num_requests: 8, batch_size: 1}\ninput_config:\n  sequence_lengths: 32\n  warmup_requests: 1\n",
    );
    let out = dir.path().join("run");
    embench().args(["run", "--fetch", "--out"]).arg(&out).arg(&config).assert().success().stderr(
        contains("--fetch: fetching and converting 'unreachable'")
            // The conversion script's own words, not embench's skip reason.
            .and(contains("pytorch/config.json does not exist and 'unreachable' has no huggingface_id"))
            .and(contains("'unreachable' FAILED"))
            .and(contains("1 of 2 cells SKIPPED")),
    );
    let records = validate_results(&out);
    let by_model = |m: &str| records.iter().find(|r| r["model"] == m).unwrap();
    assert_eq!(by_model("minilm")["valid"], true);
    let why = by_model("unreachable")["skipped"].as_str().unwrap();
    assert!(why.contains("put the model's Hugging Face folder at") && why.contains("no huggingface_id"), "{why}");
    assert!(!dir.path().join("models/unreachable").exists(), "nothing was fetched");
}
