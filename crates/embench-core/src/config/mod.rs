//! Config files and their validation into a [`LoadedConfig`].
//!
//! Parsing is strict (unknown keys are errors) and validation reports every
//! problem it finds, each naming the file, line, column, field and fix.

mod all_errors;
mod backend_entry;
mod benchmark;
mod error;
mod execution;
mod inputs;
mod models;
mod parse;
mod quality;
mod settings;
mod sizes;
mod validate;

pub use backend_entry::{BackendSpec, SHARED_KEYS};
pub use benchmark::{Arrival, BenchmarkConfig, CacheSpec, LoadMode, RepeatDistribution, Scenario};
pub use error::{ConfigError, ConfigErrors};
pub use execution::{
    Cost, CostSpec, Count, DynamicBatching, DynamicBatchingSpec, Execution, Measurement, Slo, SloSpec, SteadyStateSpec,
    DEFAULT_INSTANCE,
};
pub use inputs::{DatasetConfig, InputConfig};
pub use models::{ModelConfig, ModelType, ModelsFile};
pub use parse::{closest, parse_config_file, parse_config_file_with, parse_yaml_file, parse_yaml_str};
pub use quality::{Quality, QualitySpec, RecallBounds, RetrievalCheck, DEFAULT_MIN_RECALL_AT_10};
pub use settings::{BackendSettings, Parallelism, Settings, SettingsBlock, SettingsSource};
pub use sizes::{BatchSpec, SeqLen, DEFAULT_SWEEP};
/// A backend crate's settings block, for the JSON Schema and for routing keys: its
/// key, its keys, its schema, and the backends that take it.
#[derive(Debug, Clone)]
pub struct BlockSchema {
    /// The block's key in a backend entry (`ort`).
    pub key: &'static str,
    /// Its keys (the flat form's keys).
    pub keys: Vec<String>,
    /// Its JSON Schema.
    pub schema: serde_json::Value,
    /// The backends that take it (ort and ort-native take `ort`).
    pub owners: Vec<crate::BackendKind>,
}

impl BlockSchema {
    /// The block of type `S`, taken by `owners`.
    pub fn of<S: SettingsBlock>(owners: Vec<crate::BackendKind>) -> Self {
        let schema = serde_json::to_value(schemars::schema_for!(S)).expect("a schema is JSON");
        Self { key: S::KEY, keys: S::keys(), schema, owners }
    }

    /// The backends that take `key` of it, in words: its owners, or the one its
    /// schema's description names (`python-torch only: ...`).
    pub fn owner_of(&self, key: &str) -> String {
        let doc = self.schema["properties"][key]["description"].as_str().unwrap_or_default();
        match doc.split_once(" only:") {
            Some((names, _)) if crate::BackendKind::from_name(names).is_some() => format!("the {names} backend"),
            _ => self.owners_text(),
        }
    }

    /// Its keys that `kind` takes (python-torch's `mode` is not python-ort's).
    pub fn keys_of(&self, kind: crate::BackendKind) -> Vec<String> {
        let only = |k: &String| self.owner_of(k) == self.owners_text() || self.owner_of(k).contains(kind.name());
        self.keys.iter().filter(|k| only(k)).cloned().collect()
    }

    /// The backends that take it, in words: `the openvino backend`, `the ort and
    /// ort-native backends`, `the python-* backends`.
    pub fn owners_text(&self) -> String {
        let names: Vec<&str> = self.owners.iter().map(|k| k.name()).collect();
        match names.as_slice() {
            [one] => format!("the {one} backend"),
            many if many.iter().all(|n| n.starts_with("python-")) => "the python-* backends".to_string(),
            many => format!("the {} backends", many.join(" and ")),
        }
    }
}

/// The JSON Schemas of the config files, generated from the types that parse them,
/// with `blocks` (the backend crates' settings) under each backend entry, their flat
/// keys marked deprecated: (file name in `schema/`, schema). Editors pick them up from
/// the first line of each shipped YAML file (`# yaml-language-server: $schema=...`).
pub fn json_schemas(blocks: &[BlockSchema]) -> [(&'static str, serde_json::Value); 2] {
    let value = |s: schemars::Schema| serde_json::to_value(s).expect("a schema is JSON");
    [
        ("benchmark-config.schema.json", benchmark_schema(blocks)),
        ("models.schema.json", value(schemars::schema_for!(ModelsFile))),
    ]
}

/// The benchmark config's schema with `blocks` in each backend entry.
pub fn benchmark_schema(blocks: &[BlockSchema]) -> serde_json::Value {
    let mut root = serde_json::to_value(schemars::schema_for!(BenchmarkConfig)).expect("a schema is JSON");
    let mut defs = root["$defs"].take();
    for block in blocks {
        let mut schema = block.schema.clone();
        if let Some(own) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            for (name, def) in own.as_object().into_iter().flatten() {
                // Two crates' types of one name would take each other's place.
                assert!(
                    defs.get(name).is_none_or(|d| d == def),
                    "the '{}' block's type {name} clashes with another of that name in the config schema",
                    block.key
                );
                defs[name] = def.clone();
            }
        }
        let spec = &mut defs["BackendSpec"];
        let mut block_schema = schema.clone();
        if let Some(o) = block_schema.as_object_mut() {
            o.remove("$schema");
            o.insert(
                "description".into(),
                format!("Settings of {}, read and checked by the backend's crate.", block.owners_text()).into(),
            );
        }
        spec["properties"][block.key] = block_schema;
        for key in &block.keys {
            let mut flat = schema["properties"][key].clone();
            let doc = flat["description"].as_str().unwrap_or_default().to_string();
            flat["description"] =
                format!("Deprecated flat form: write it as `{}: {{{key}: ...}}`. {doc}", block.key).into();
            flat["deprecated"] = true.into();
            spec["properties"][key.as_str()] = flat;
        }
    }
    if !blocks.is_empty() {
        defs["BackendSpec"]["additionalProperties"] = false.into();
    }
    root["$defs"] = defs;
    root
}

pub use validate::{
    frameworks, load_config, load_config_with, AutoSettings, Availability, BatchPoint, DeviceKind, LoadedConfig, Mode,
    ResolvedBackend, ResolvedCache, ResolvedDataset, ResolvedModel, ResolvedScenario, Skip, DEFAULT_CELL_TIMEOUT_S,
    MAX_BATCH_SIZE, MAX_CONCURRENCY, MAX_THREADS,
};
