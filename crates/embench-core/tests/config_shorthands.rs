//! The design's forms (backends as bare names or omitted, `active_model`, the
//! optional model keys) and the cells a config skips instead of refusing it
//! (`strict: true` refuses them).

use std::path::Path;

use embench_core::config::{load_config, ConfigError, LoadedConfig, SeqLen};
use embench_core::{BackendCatalog, BackendKind};

mod common;

/// Three models: `short` (64 tokens) with a folder candle can read; `remote`, which
/// has no `path` and whose default folder (`../models/remote`) does not exist; and
/// `bare`, whose folder lacks its tokenizer (a conversion that never finished).
const MODELS: &str = "\
models:
  short:
    type: embedding
    max_seq_length: 64
    embedding_dim: 384
    path: short
  remote:
    name: Remote
    type: text_embedding
    huggingface_id: vendor/remote
    max_seq_length: 512
    embedding_dim: 384
  bare:
    path: bare
    max_seq_length: 512
    embedding_dim: 384
";

const SCENARIOS: &str = "\
test_scenarios:
  - {name: s, concurrency: 1, num_requests: 4, batch_size: 1}
input_config:
  sequence_lengths: [32, 128]
  warmup_requests: 1
";

/// Loads `head` + the scenarios from `dir/cfg/` (so `remote`'s default folder is
/// `dir/models/remote`, which nothing else shares).
fn load(dir: &Path, head: &str, unusable: &[BackendKind]) -> Result<LoadedConfig, Vec<ConfigError>> {
    let dir = &dir.join("cfg");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("models.yaml"), MODELS).unwrap();
    let config_json = r#"{"model_type": "bert", "max_position_embeddings": 512, "hidden_size": 384}"#;
    for (name, files) in [("short", &["model.safetensors", "tokenizer.json"][..]), ("bare", &[][..])] {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for f in files {
            std::fs::write(folder.join(f), "x").unwrap();
        }
        std::fs::write(folder.join("config.json"), config_json).unwrap();
    }
    let p = dir.join("bench.yaml");
    std::fs::write(&p, format!("{head}{SCENARIOS}")).unwrap();
    load_config(&p, &Build(unusable)).map_err(|e| e.0)
}

/// A build without the `unusable` backends; the others' crates read their settings.
struct Build<'a>(&'a [BackendKind]);

impl BackendCatalog for Build<'_> {
    fn unusable(&self, kind: BackendKind) -> Option<String> {
        self.0.contains(&kind).then(|| format!("{kind} is not in this test's build"))
    }

    fn backend(&self, kind: BackendKind) -> Option<&'static dyn embench_core::Backend> {
        common::crate_of(kind).filter(|_| !self.0.contains(&kind))
    }
}

fn errors(dir: &Path, head: &str) -> String {
    let e = load(dir, head, &[]).expect_err("refused");
    e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn backends_may_be_bare_names_or_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let c =
        load(dir.path(), "active_models: [short]\nbackends: [candle, {name: ort, ort: {sessions: 2}}, mock]\n", &[])
            .unwrap();
    let labels: Vec<&str> = c.backends.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["candle", "ort", "mock"]);
    assert_eq!(c.backends[1].settings::<embench_ort::OrtOptions>().unwrap().sessions, 2);
    assert!(!c.every_framework());
    let c = load(dir.path(), "active_models: [short]\nbackends:\n  - candle\n  - name: ort\n", &[]).unwrap();
    assert_eq!(c.backends.len(), 2);
}

#[test]
fn a_bare_backend_name_keeps_its_place_for_errors() {
    let dir = tempfile::tempdir().unwrap();
    let shown = errors(dir.path(), "active_models: [short]\nbackends: [candle, candel]\n");
    assert!(shown.contains("bench.yaml:2:20: field 'backends[1].name': unknown backend 'candel'"), "{shown}");
    assert!(shown.contains("did you mean 'candle'?"), "{shown}");
    let shown = errors(dir.path(), "active_models: [short]\nbackends: [7]\n");
    assert!(shown.contains("a backend name (e.g. candle) or a mapping"), "{shown}");
    let shown = errors(dir.path(), "active_models: [short]\nbackends: []\n");
    assert!(shown.contains("no backends listed") && shown.contains("remove 'backends' to run every framework"));
}

#[test]
fn active_model_is_active_models_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "active_model: short\nbackends: [candle]\n", &[]).unwrap();
    assert_eq!(c.models.len(), 1);
    assert_eq!(c.models[0].key, "short");
    // Optional keys: no name, params, multilingual or huggingface_id; `type: embedding`.
    assert_eq!(c.models[0].config.name, None);
    let shown = errors(dir.path(), "active_model: short\nactive_models: [remote]\nbackends: [mock]\n");
    assert!(shown.contains("field 'active_model': both 'active_model' and 'active_models' are given"), "{shown}");
    let shown = errors(dir.path(), "backends: [mock]\n");
    assert!(shown.contains("no models listed"), "{shown}");
}

#[test]
fn omitted_backends_are_every_framework_and_those_that_cannot_run_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "active_models: [short]\n", &[BackendKind::Tch]).unwrap();
    assert!(c.every_framework());
    let kinds: Vec<BackendKind> = c.backends.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, embench_core::config::frameworks());
    let why = c.skip_reason("short", "tch", "s", SeqLen::Tokens(32)).expect("tch skipped");
    assert_eq!(why, "backend 'tch' cannot run here: tch is not in this test's build");
    assert_eq!(c.skip_reason("short", "candle", "s", SeqLen::Tokens(32)), None);
    // Named, it must run.
    let named = load(dir.path(), "active_models: [short]\nbackends: [tch]\n", &[BackendKind::Tch]).unwrap_err();
    assert!(named[0].to_string().contains("field 'backends[0].name': backend 'tch' cannot run here"), "{named:?}");
}

#[test]
fn a_length_over_one_models_maximum_skips_that_model_only() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "active_models: [short, remote]\nbackends: [mock]\n", &[]).unwrap();
    let why = c.skip_reason("short", "mock", "s", SeqLen::Tokens(128)).expect("short skips 128");
    assert!(why.contains("sequence length 128 is over model 'short''s maximum of 64"), "{why}");
    assert!(why.contains("models.yaml: models.short.max_seq_length"), "{why}");
    assert_eq!(c.skip_reason("short", "mock", "s", SeqLen::Tokens(32)), None);
    assert_eq!(c.skip_reason("remote", "mock", "s", SeqLen::Tokens(128)), None, "the mock needs no folder");
    let strict = errors(dir.path(), "active_models: [short, remote]\nbackends: [mock]\nstrict: true\n");
    assert!(strict.contains("field 'input_config.sequence_lengths[1]': sequence length 128 is over"), "{strict}");
}

#[test]
fn a_model_without_its_folder_is_skipped_with_the_command_that_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "active_models: [short, remote]\nbackends: [candle, mock]\n", &[]).unwrap();
    let why = c.skip_reason("remote", "candle", "s", SeqLen::Tokens(32)).expect("remote skipped on candle");
    let folder = dir.path().join("models/remote");
    assert!(why.contains(&format!("{} does not exist", folder.display())), "{why}");
    assert!(why.contains("the default for a model without 'path'"), "{why}");
    assert!(why.contains("fetch vendor/remote from the Hugging Face Hub"), "{why}");
    assert!(why.contains("embench run --fetch --config") && why.contains("scripts/convert_models.sh --models-file"));
    assert_eq!(c.skip_reason("remote", "mock", "s", SeqLen::Tokens(32)), None);
    assert_eq!(c.skip_reason("short", "candle", "s", SeqLen::Tokens(32)), None);
    let strict = errors(dir.path(), "active_models: [remote]\nbackends: [candle]\nstrict: true\n");
    assert!(strict.contains("bench.yaml:1:17: field 'active_models': model 'remote' has no folder"), "{strict}");
}

#[test]
fn a_folder_without_a_backends_files_skips_the_model_on_that_backend() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "active_models: [short, bare]\nbackends: [candle]\n", &[]).unwrap();
    let why = c.skip_reason("bare", "candle", "s", SeqLen::Tokens(32)).expect("bare skipped");
    let tokenizer = dir.path().join("cfg/bare/tokenizer.json");
    assert!(why.starts_with(&format!("missing model files: {}", tokenizer.display())), "{why}");
    assert!(why.contains("(fix: fetch and convert the model first: scripts/convert_models.sh --models-file"), "{why}");
    assert_eq!(c.skip_reason("short", "candle", "s", SeqLen::Tokens(32)), None);
    let strict = errors(dir.path(), "active_models: [short, bare]\nbackends: [candle]\nstrict: true\n");
    assert!(strict.contains("field 'models.bare.path': missing model files:"), "{strict}");
}
