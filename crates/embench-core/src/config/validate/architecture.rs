//! Validation of a model's architecture: `models.yaml`'s `architecture` against
//! the folder's `config.json` `model_type`, each backend's declared architectures,
//! and a sentence-transformers head embench does not run yet.

use serde_saphyr::Spanned;

use super::{ResolvedBackend, Skip, Validator};
use crate::architecture::Architecture;
use crate::backend::BackendKind;
use crate::config::error::ConfigError;
use crate::config::models::ModelConfig;
use crate::head::{unknown_modules, DenseLayer, IDENTITY, KNOWN_MODULES};
use crate::model_files::ModelFolder;
use crate::model_limits::ModelLimits;

impl Validator<'_> {
    /// The model's architecture: the folder's `config.json` `model_type` when it is
    /// one embench knows, else `models.yaml`'s `architecture`; the two must agree.
    pub(super) fn architecture(
        &mut self,
        key: &str,
        config: &ModelConfig,
        limits: Option<&ModelLimits>,
    ) -> Option<Architecture> {
        let field = format!("models.{key}.architecture");
        let declared = config.architecture.as_ref().and_then(|a| match Architecture::from_name(&a.value) {
            Some(arch) => Some((arch, a)),
            None => {
                let e = ConfigError::at(
                    self.models_path,
                    a,
                    field.clone(),
                    format!("architecture '{}' is not one embench knows", a.value),
                );
                self.err(e.fix(format!(
                    "use one of: {}; or remove 'architecture': embench then reads it from the folder's config.json, and runs a model_type it does not know as a generic encoder on the converted backends (ort, openvino, tch, python-*)",
                    Architecture::names()
                )));
                None
            }
        });
        let model_type = limits.and_then(|l| l.model_type.as_deref());
        let found = model_type.and_then(Architecture::from_model_type);
        match (declared, model_type, found) {
            (Some((arch, at)), Some(mt), found) if found != Some(arch) => {
                let config_json = limits.map(|l| l.positions_source.split(':').next().unwrap_or_default().to_string());
                let e = ConfigError::at(
                    self.models_path,
                    at,
                    field,
                    format!(
                        "architecture '{}' disagrees with model_type '{mt}' in {}",
                        arch,
                        config_json.unwrap_or_else(|| "config.json".into())
                    ),
                );
                let fix = match found {
                    Some(f) => format!("set architecture: {f}, or point 'path' at a {arch} model's folder"),
                    None => format!("remove 'architecture' (embench runs '{mt}' models as generic encoders on the converted backends), or point 'path' at a {arch} model's folder"),
                };
                self.err(e.fix(fix));
                None
            }
            (_, _, Some(arch)) => Some(arch),
            (Some((arch, _)), _, None) => Some(arch),
            _ => None,
        }
    }

    /// Every backend of the config that does not declare `architecture`: its cells of
    /// the model are skipped (an error under `strict`). A model whose architecture is
    /// not known is left to the backends, as before.
    pub(super) fn check_backends_run(
        &mut self,
        key: &Spanned<String>,
        index: usize,
        architecture: Option<Architecture>,
        backends: &[ResolvedBackend],
    ) {
        let Some(arch) = architecture else { return };
        let runs_it: Vec<&str> = BackendKind::ALL
            .into_iter()
            .filter(|&k| k.needs_model_files())
            .filter(|&k| self.catalog.architectures(k).is_some_and(|list| list.contains(&arch)))
            .map(BackendKind::name)
            .collect();
        for b in backends {
            let Some(list) = self.catalog.architectures(b.kind) else { continue };
            if list.contains(&arch) {
                continue;
            }
            let runs: Vec<&str> = list.iter().map(|a| a.name()).collect();
            let e = self.at(
                key,
                format!("active_models[{index}]"),
                format!(
                    "backend '{}' does not run {arch} models ('{}' is one; {} runs: {})",
                    b.label,
                    key.value,
                    b.kind,
                    runs.join(", ")
                ),
            );
            let others = if runs_it.is_empty() {
                format!("no backend of this build runs {arch} models yet")
            } else {
                format!("backends that run {arch}: {}", runs_it.join(", "))
            };
            let e =
                e.fix(format!("remove '{}' from backends or '{}' from active_models ({others})", b.label, key.value));
            let skip =
                Skip { model: Some(key.value.clone()), backends: Some(vec![b.label.clone()]), ..Skip::everywhere() };
            self.skip_or_err(e, skip);
        }
    }

    /// An error when the folder has Dense layers that a backend of the config would
    /// skip: one reading the converted files of a conversion made before the head went
    /// into the graph (`conversion.json`'s `output` is `last_hidden_state`). candle runs
    /// the head itself and python-torch eager runs sentence-transformers' own.
    pub(super) fn check_dense(
        &mut self,
        key: &str,
        folder: Option<&ModelFolder>,
        dense: &[DenseLayer],
        backends: &[ResolvedBackend],
    ) {
        let (Some(first), Some(folder)) = (dense.first(), folder) else { return };
        // candle's head runs the identity activation only (EmbeddingGemma's).
        let other = dense.iter().find(|d| d.activation_function != IDENTITY);
        if let (Some(d), Some(b)) = (other, backends.iter().find(|b| b.kind == BackendKind::Candle)) {
            let e = ConfigError::file(
                self.models_path,
                format!("models.{key}.path"),
                format!(
                    "{}/config.json: activation_function '{}' is not one candle's head runs ({IDENTITY})",
                    d.path, d.activation_function
                ),
            );
            self.err(e.fix(format!(
                "remove '{}' from backends for this model; the converted backends run it in the graph",
                b.label
            )));
        }
        let conversion = folder.root.join("conversion.json");
        let output = crate::model_files::read_json(&conversion)
            .ok()
            .flatten()
            .and_then(|j| j.get("output").and_then(|o| o.as_str()).map(str::to_string));
        if output.as_deref() != Some("last_hidden_state") {
            return;
        }
        let reads_export = |b: &ResolvedBackend| self.catalog.backend(b.kind).is_none_or(|c| c.runs_export(b));
        let skip: Vec<&str> = backends
            .iter()
            .filter(|b| b.kind.needs_model_files() && b.kind != BackendKind::Candle)
            .filter(|b| reads_export(b))
            .map(|b| b.label.as_str())
            .collect();
        if skip.is_empty() {
            return;
        }
        let e = ConfigError::file(
            self.models_path,
            format!("models.{key}.path"),
            format!(
                "the model's sentence-transformers head has {} Dense layer(s) ({}: {} -> {}), but {} holds an export of the network alone (output last_hidden_state), so {} would embed without them",
                dense.len(),
                first.path,
                first.in_features,
                first.out_features,
                conversion.display(),
                skip.join(", ")
            ),
        );
        self.err(e.fix(format!("scripts/convert_models.sh --force {key} (the head goes into the graph)")));
    }

    /// An error for each module of the folder's sentence-transformers pipeline that
    /// embench does not run (only backends that load the model care).
    pub(super) fn check_modules(&mut self, key: &str, folder: &ModelFolder, backends: &[ResolvedBackend]) {
        if !backends.iter().any(|b| b.kind.needs_model_files()) {
            return;
        }
        let unknown = match unknown_modules(folder) {
            Ok(u) => u,
            Err(msg) => {
                self.errors.push(ConfigError::file(self.models_path, format!("models.{key}.path"), msg));
                return;
            }
        };
        for type_name in unknown {
            let e = ConfigError::file(
                self.models_path,
                format!("models.{key}.path"),
                format!(
                    "{}: module '{type_name}' is not one embench runs ({}); the vectors would not be the model's",
                    folder.hf_dir().join("modules.json").display(),
                    KNOWN_MODULES.join(", ")
                ),
            );
            self.err(e.fix("benchmark a model whose pipeline embench runs, or open an issue for this module"));
        }
    }
}
