//! Cells a config asks for that cannot run here: each is SKIPPED with its reason
//! (recorded, listed by `validate`, counted by `run`), or under `strict: true` an
//! error. And the backends a config that lists none runs: every framework embench has.

use serde::Serialize;
use serde_saphyr::{Location, Spanned};

use super::Validator;
use crate::backend::BackendKind;
use crate::config::backend_entry::BackendSpec;
use crate::config::benchmark::BenchmarkConfig;
use crate::config::error::ConfigError;
use crate::config::sizes::SeqLen;

/// Cells that will be recorded as SKIPPED instead of run: those of `model` (every
/// model when None) on `backends` (every backend when None), in `scenario` (every
/// one when None), at `seq_len` (every length when None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skip {
    /// Model key.
    pub model: Option<String>,
    /// Backend labels.
    pub backends: Option<Vec<String>>,
    /// Scenario name.
    pub scenario: Option<String>,
    /// Sequence length.
    pub seq_len: Option<SeqLen>,
    /// Why, with the fix.
    pub reason: String,
}

impl Skip {
    /// Covers every cell (fill in the fields that narrow it).
    pub fn everywhere() -> Self {
        Self { model: None, backends: None, scenario: None, seq_len: None, reason: String::new() }
    }

    /// Whether the cell of `model` on backend `backend` in `scenario` at `seq_len` is one of these.
    pub fn covers(&self, model: &str, backend: &str, scenario: &str, seq_len: SeqLen) -> bool {
        self.model.as_deref().is_none_or(|m| m == model)
            && self.backends.as_ref().is_none_or(|b| b.iter().any(|l| l == backend))
            && self.scenario.as_deref().is_none_or(|s| s == scenario)
            && self.seq_len.is_none_or(|n| n == seq_len)
    }

    /// What it covers, e.g. `model 'clip' at sequence length 128`.
    pub fn scope(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.model {
            parts.push(format!("model '{m}'"));
        }
        if let Some(b) = &self.backends {
            parts.push(format!("on {}", b.join(", ")));
        }
        if let Some(s) = &self.scenario {
            parts.push(format!("in scenario '{s}'"));
        }
        if let Some(n) = self.seq_len {
            parts.push(format!("at sequence length {n}"));
        }
        if parts.is_empty() {
            "every cell".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The backends a config without `backends` runs: every framework, in display
/// order (not the mock and python-echo, which measure the harness: they load no model).
pub fn frameworks() -> Vec<BackendKind> {
    BackendKind::ALL.into_iter().filter(|k| k.needs_model_files()).collect()
}

/// The backend entries of `benchmark`: as listed, or (None listed) one per framework.
pub(super) fn backend_specs(benchmark: &BenchmarkConfig) -> Vec<BackendSpec> {
    match &benchmark.backends {
        Some(list) => list.clone(),
        None => frameworks()
            .iter()
            .map(|k| BackendSpec::named(Spanned::new(k.name().to_string(), Location::UNKNOWN, Location::UNKNOWN)))
            .collect(),
    }
}

impl Validator<'_> {
    /// A cell problem: an error under `strict`, else a skip of the cells it covers
    /// whose reason is the error's message and fix.
    pub(super) fn skip_or_err(&mut self, e: ConfigError, skip: Skip) {
        if self.strict {
            self.err(e);
        } else {
            let reason = match &e.fix {
                Some(fix) => format!("{} (fix: {fix})", e.message),
                None => e.message.clone(),
            };
            self.skips.push(Skip { reason, ..skip });
        }
    }

    /// Whether every cell of `model` on backend `label` is already skipped (its files are then not needed).
    pub(super) fn skips_everything_of(&self, model: &str, label: &str) -> bool {
        self.skips.iter().any(|s| {
            s.scenario.is_none()
                && s.seq_len.is_none()
                && s.model.as_deref().is_none_or(|m| m == model)
                && s.backends.as_ref().is_none_or(|b| b.iter().any(|l| l == label))
        })
    }

    /// The models to run: `active_models`, or `active_model` as a list of one.
    pub(super) fn active(&mut self, benchmark: &BenchmarkConfig) -> Vec<Spanned<String>> {
        match (&benchmark.active_model, benchmark.active_models.is_empty()) {
            (None, _) => benchmark.active_models.clone(),
            (Some(one), true) => vec![one.clone()],
            (Some(one), false) => {
                let e = self.at(one, "active_model", "both 'active_model' and 'active_models' are given");
                self.err(e.fix("list every model under 'active_models' and remove 'active_model'"));
                benchmark.active_models.clone()
            }
        }
    }
}
