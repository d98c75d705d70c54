//! Config files and their validation into a [`LoadedConfig`].
//!
//! Parsing is strict (unknown keys are errors) and validation reports every
//! problem it finds, each naming the file, line, column, field and fix.

mod backend_options;
mod benchmark;
mod error;
mod execution;
mod models;
mod parse;
mod validate;

pub use backend_options::{
    ExecutionMode, ExecutionProvider, GraphOptimization, ModelFormat, OpenvinoOptions, OrtOptions, PerformanceHint,
};
pub use benchmark::{
    Arrival, BackendSpec, BatchCost, BatchSpec, BenchmarkConfig, CacheSpec, Crash, CrashKind, DatasetConfig,
    InputConfig, LoadMode, RepeatDistribution, Scenario, SeqLen, ServiceTime, Stall, TorchMode, WrongOutput,
    WrongValues, DEFAULT_SWEEP,
};
pub use error::{ConfigError, ConfigErrors};
pub use execution::{
    Cost, CostSpec, Count, DynamicBatching, DynamicBatchingSpec, Execution, Measurement, Slo, SloSpec, SteadyStateSpec,
    DEFAULT_INSTANCE,
};
pub use models::{ModelConfig, ModelType, ModelsFile};
pub use parse::{closest, parse_yaml_file, parse_yaml_str};
pub use validate::{
    load_config, load_config_with, AutoSettings, Availability, BatchPoint, DeviceKind, LoadedConfig, MockSettings,
    Mode, PythonOptions, ResolvedBackend, ResolvedCache, ResolvedDataset, ResolvedModel, ResolvedScenario,
    DEFAULT_CELL_TIMEOUT_S,
};
