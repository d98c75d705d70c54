//! The Python baselines' settings as a backend entry gives them (`python: {processes:
//! 2, mode: torchscript}`), checked, and resolved into [`PythonOptions`].

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use embench_core::config::{
    BackendSettings, ConfigError, Parallelism, Settings, SettingsBlock, SettingsSource, MAX_CONCURRENCY,
};
use embench_core::BackendKind;

/// How python-torch runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TorchMode {
    /// The model's sentence-transformers pipeline, eager (`SentenceTransformer(folder)`).
    #[default]
    Eager,
    /// The TorchScript export (`torch.jit.load`), the file embench's tch backend loads.
    Torchscript,
}

/// The `python` block as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonBlock {
    /// python-torch only: `eager` (default, the model's sentence-transformers pipeline) or `torchscript` (the export).
    #[serde(default)]
    #[schemars(with = "Option<TorchMode>")]
    pub mode: Option<Spanned<TorchMode>>,
    /// Worker processes concurrent requests draw from (default 1).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub processes: Option<Spanned<usize>>,
}

impl SettingsBlock for PythonBlock {
    const KEY: &'static str = "python";

    fn example() -> String {
        "processes: 2".into()
    }
}

/// Settings of a backend that runs in Python worker processes, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PythonOptions {
    /// python-torch: eager or TorchScript.
    pub mode: TorchMode,
    /// Worker processes concurrent requests draw from.
    pub processes: usize,
}

impl Default for PythonOptions {
    /// Eager, one worker process.
    fn default() -> Self {
        Self { mode: TorchMode::Eager, processes: 1 }
    }
}

impl BackendSettings for PythonOptions {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are JSON")
    }

    /// Each worker process has its own intra-op threads.
    fn parallelism(&self) -> Parallelism {
        Parallelism { instances: self.processes, inter_op_threads: 0 }
    }
}

/// Reads and checks the entry's `python` block.
///
/// Errors: processes outside `1..=1024`, `mode` on another backend than python-torch.
pub fn settings(source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
    let block: PythonBlock = source.read()?;
    let mut errors = Vec::new();
    let processes = source.positive(&mut errors, "processes", block.processes.as_ref(), MAX_CONCURRENCY);
    if let (Some(m), false) = (&block.mode, source.kind == BackendKind::PythonTorch) {
        let e = source.at(m, "mode", "'mode' is a setting of the python-torch backend");
        errors.push(e.fix(format!("remove 'mode' from the '{}' backend", source.kind)));
    }
    errors.extend(source.cpu_only("use device: cpu for the Python baselines"));
    match errors.is_empty() {
        true => Ok(Some(Settings::new(PythonOptions {
            mode: block.mode.map_or_else(Default::default, |m| m.value),
            processes: processes.unwrap_or(1),
        }))),
        false => Err(errors),
    }
}
