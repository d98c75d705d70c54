//! Config files and their validation into a [`LoadedConfig`].
//!
//! Parsing is strict (unknown keys are errors) and validation reports every
//! problem it finds, each naming the file, line, column, field and fix.

mod all_errors;
mod backend_options;
mod benchmark;
mod error;
mod execution;
mod inputs;
mod models;
mod parse;
mod sizes;
mod validate;

pub use backend_options::{
    ExecutionMode, ExecutionProvider, GraphOptimization, HttpApi, HttpOptions, ModelFormat, OpenvinoOptions,
    OrtOptions, PerformanceHint,
};
pub use benchmark::{
    Arrival, BackendSpec, BatchCost, BenchmarkConfig, CacheSpec, Crash, CrashKind, LoadMode, RepeatDistribution,
    Scenario, ServiceTime, Stall, TorchMode, WrongOutput, WrongValues,
};
pub use error::{ConfigError, ConfigErrors};
pub use execution::{
    Cost, CostSpec, Count, DynamicBatching, DynamicBatchingSpec, Execution, Measurement, Slo, SloSpec, SteadyStateSpec,
    DEFAULT_INSTANCE,
};
pub use inputs::{DatasetConfig, InputConfig};
pub use models::{ModelConfig, ModelType, ModelsFile};
pub use parse::{closest, parse_config_file, parse_yaml_file, parse_yaml_str};
pub use sizes::{BatchSpec, SeqLen, DEFAULT_SWEEP};
/// The JSON Schemas of the config files, generated from the types that parse them:
/// (file name in `schema/`, schema). Editors pick them up from the first line of
/// each shipped YAML file (`# yaml-language-server: $schema=...`).
pub fn json_schemas() -> [(&'static str, serde_json::Value); 2] {
    let value = |s: schemars::Schema| serde_json::to_value(s).expect("a schema is JSON");
    [
        ("benchmark-config.schema.json", value(schemars::schema_for!(BenchmarkConfig))),
        ("models.schema.json", value(schemars::schema_for!(ModelsFile))),
    ]
}

pub use validate::{
    frameworks, load_config, load_config_with, AutoSettings, Availability, BatchPoint, DeviceKind, LoadedConfig,
    MockSettings, Mode, PythonOptions, ResolvedBackend, ResolvedCache, ResolvedDataset, ResolvedModel,
    ResolvedScenario, Skip, DEFAULT_CELL_TIMEOUT_S,
};
