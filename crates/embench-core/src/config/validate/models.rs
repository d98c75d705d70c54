//! Validation of the active models: each one's entry in models.yaml, its folder's
//! files (as each backend names them), limits, architecture, pooling and head.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::{ResolvedBackend, ResolvedModel, Skip, Validator};
use crate::config::error::ConfigError;
use crate::config::models::ModelConfig;
use crate::config::parse::closest;
use crate::head::dense_layers;
use crate::model_files::ModelFolder;
use crate::model_limits::ModelLimits;
use crate::pooling::{Pooling, PoolingKind};

impl Validator<'_> {
    pub(super) fn models(&mut self, active: &[Spanned<String>], backends: &[ResolvedBackend]) -> Vec<ResolvedModel> {
        if active.is_empty() {
            self.err(
                ConfigError::file(self.config_path, "active_models", "no models listed")
                    .fix("add a key of models.yaml"),
            );
        }
        let keys: Vec<String> = self.models_file.models.keys().cloned().collect();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, key) in active.iter().enumerate() {
            let field = format!("active_models[{i}]");
            if !seen.insert(key.value.clone()) {
                let e = self.at(key, field.clone(), format!("model '{}' is listed twice", key.value));
                self.err(e.fix("list each model once"));
                continue;
            }
            let Some(config) = self.models_file.models.get(&key.value) else {
                let hint = closest(&key.value, &keys).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                let e = self.at(
                    key,
                    field,
                    format!("model '{}' is not in {}{hint}", key.value, self.models_path.display()),
                );
                self.err(e.fix(format!("use one of: {}", keys.join(", "))));
                continue;
            };
            // The folder, where it exists: `path`, else where convert_models.sh puts the model.
            let root = config.folder_path(self.models_path, &key.value);
            let folder = root.is_dir().then(|| ModelFolder::new(root.clone()));
            let pooling = self.pooling(&key.value, config, folder.as_ref());
            let limits = folder.as_ref().and_then(|f| self.limits(&key.value, config, f));
            let architecture = self.architecture(&key.value, config, limits.as_ref());
            self.check_backends_run(key, i, architecture, backends);
            self.check_model_files(key, config, folder.as_ref(), &root, backends);
            let dense = match folder.as_ref().map(dense_layers) {
                Some(Ok(d)) => d,
                Some(Err(msg)) => {
                    // A broken Dense config is also what the folder's limits read: say it once.
                    if !self.errors.iter().any(|e| e.message == msg) {
                        let field = format!("models.{}.path", key.value);
                        self.errors.push(ConfigError::file(self.models_path, field, msg));
                    }
                    Vec::new()
                }
                None => Vec::new(),
            };
            self.check_dense(&key.value, folder.as_ref(), &dense, backends);
            if let Some(f) = &folder {
                self.check_modules(&key.value, f, backends);
            }
            let (prompts, include_prompt) = self.prompts(&key.value, folder.as_ref());
            let truncate_dim = limits
                .as_ref()
                .and_then(|l| l.output_dim)
                .filter(|&out| config.embedding_dim.value < out)
                .map(|_| config.embedding_dim.value);
            out.push(ResolvedModel {
                key: key.value.clone(),
                config: config.clone(),
                folder,
                pooling,
                limits,
                architecture,
                dense,
                prompts,
                include_prompt,
                truncate_dim,
            });
        }
        out
    }

    /// The files each backend reads, in the model's folder; a folder that does not
    /// exist skips the model's cells on those backends (an error under `strict`), with
    /// the command that fetches and converts it.
    fn check_model_files(
        &mut self,
        key: &Spanned<String>,
        config: &ModelConfig,
        folder: Option<&ModelFolder>,
        root: &Path,
        backends: &[ResolvedBackend],
    ) {
        let needing: Vec<String> = backends
            .iter()
            .filter(|b| b.kind.needs_model_files() && !self.skips_everything_of(&key.value, &b.label))
            .map(|b| b.label.clone())
            .collect();
        if needing.is_empty() {
            return;
        }
        let convert = format!("scripts/convert_models.sh --models-file {} {}", self.models_path.display(), key.value);
        let fetch = format!("fetch and convert the model first: {convert} (or `make convert` for the default model)");
        let Some(folder) = folder else {
            let whence = match &config.path {
                Some(_) => format!("its 'path' in {}", self.models_path.display()),
                None => format!("the default for a model without 'path' in {}", self.models_path.display()),
            };
            let message = format!("model '{}' has no folder: {} does not exist ({whence})", key.value, root.display());
            let fix = match config.hub_id() {
                Some(id) => format!(
                    "fetch {id} from the Hugging Face Hub and convert it: `embench run --fetch --config {}` or `{convert}`, on a machine that reaches the Hub",
                    self.config_path.display()
                ),
                None => format!(
                    "put the model's Hugging Face folder at {}/pytorch and run `{convert}` (it has no huggingface_id to fetch from)",
                    root.display()
                ),
            };
            let e = match &config.path {
                Some(p) => ConfigError::at(self.models_path, p, format!("models.{}.path", key.value), message),
                None => self.at(key, "active_models", message),
            };
            let skip = Skip { model: Some(key.value.clone()), backends: Some(needing), ..Skip::everywhere() };
            self.skip_or_err(e.fix(fix), skip);
            return;
        };
        self.check_files(key, folder, config.path.as_ref(), &fetch, backends);
    }

    /// The files each backend of the config reads that `folder` lacks (a conversion
    /// that failed or was never made): the model's cells on those backends are skipped,
    /// one reason per set of missing files; under `strict`, one error names them all.
    fn check_files(
        &mut self,
        key: &Spanned<String>,
        folder: &ModelFolder,
        path: Option<&Spanned<String>>,
        fetch: &str,
        backends: &[ResolvedBackend],
    ) {
        // Backends (labels) by the files they lack, in config order.
        let mut lacking: Vec<(Vec<PathBuf>, Vec<String>)> = Vec::new();
        let runs = |b: &&ResolvedBackend| b.kind.needs_model_files() && !self.skips_everything_of(&key.value, &b.label);
        for backend in backends.iter().filter(runs) {
            let needed = [folder.config_json(), folder.tokenizer_json()]
                .into_iter()
                .chain(self.catalog.model_files(folder, backend));
            let missing: Vec<PathBuf> = needed.filter(|p| !p.is_file()).collect();
            if missing.is_empty() {
                continue;
            }
            match lacking.iter_mut().find(|(files, _)| *files == missing) {
                Some((_, labels)) => labels.push(backend.label.clone()),
                None => lacking.push((missing, vec![backend.label.clone()])),
            }
        }
        let error = |this: &Self, files: &[&PathBuf]| {
            let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            let message = format!("missing model files: {}", list.join(", "));
            let e = match path {
                Some(p) => ConfigError::at(this.models_path, p, format!("models.{}.path", key.value), message),
                None => this.at(
                    key,
                    "active_models",
                    format!("model '{}' (folder {}): {message}", key.value, folder.root.display()),
                ),
            };
            e.fix(fetch)
        };
        if self.strict && !lacking.is_empty() {
            let mut all: Vec<&PathBuf> = Vec::new();
            for p in lacking.iter().flat_map(|(files, _)| files) {
                if !all.contains(&p) {
                    all.push(p);
                }
            }
            let e = error(self, &all);
            self.err(e);
            return;
        }
        for (files, labels) in &lacking {
            let e = error(self, &files.iter().collect::<Vec<_>>());
            let skip = Skip { model: Some(key.value.clone()), backends: Some(labels.clone()), ..Skip::everywhere() };
            self.skip_or_err(e, skip);
        }
    }

    /// The folder's limits, with `max_seq_length` and `embedding_dim` checked against them.
    fn limits(&mut self, key: &str, config: &ModelConfig, folder: &ModelFolder) -> Option<ModelLimits> {
        let limits = match ModelLimits::read(folder) {
            Ok(l) => l?,
            Err(msg) => {
                self.errors.push(ConfigError::file(self.models_path, format!("models.{key}.path"), msg));
                return None;
            }
        };
        let max = &config.max_seq_length;
        if let Some(positions) = limits.max_positions.filter(|&p| max.value > p) {
            let e = ConfigError::at(
                self.models_path,
                max,
                format!("models.{key}.max_seq_length"),
                format!(
                    "max_seq_length {} is over the {positions} positions the model has ({})",
                    max.value, limits.positions_source
                ),
            );
            // The design's own models.yaml says 8192 for EmbeddingGemma's 2048 positions:
            // the model's table bounds the lengths either way, so only `strict` refuses it.
            if self.strict {
                self.err(e.fix(format!("set max_seq_length to at most {positions}")));
            } else {
                let fix = format!(
                    "set max_seq_length to at most {positions}; until then lengths over {positions} are skipped for '{key}'"
                );
                self.warnings.push(e.fix(fix).to_string());
            }
        }
        // Below the head's output is Matryoshka truncation (sentence-transformers'
        // truncate_dim); above it, or zero, is impossible.
        let dim = &config.embedding_dim;
        if let Some(out) = limits.output_dim.filter(|&d| dim.value > d || dim.value == 0) {
            let e = ConfigError::at(
                self.models_path,
                dim,
                format!("models.{key}.embedding_dim"),
                format!(
                    "embedding_dim {} is not reachable: the model puts out {out} values ({}), and a vector can only be truncated (Matryoshka) below that",
                    dim.value, limits.output_source
                ),
            );
            self.err(e.fix(format!("set embedding_dim to {out}, or to a truncation below it (e.g. {})", out / 2)));
        }
        Some(limits)
    }

    /// The folder's prompts and `include_prompt`; a file that cannot be read is an error naming it.
    fn prompts(&mut self, key: &str, folder: Option<&ModelFolder>) -> (BTreeMap<String, String>, bool) {
        let Some(folder) = folder else { return (BTreeMap::new(), true) };
        let field = format!("models.{key}.path");
        let prompts = folder.prompts().unwrap_or_else(|msg| {
            self.errors.push(ConfigError::file(self.models_path, field.clone(), msg));
            BTreeMap::new()
        });
        let include = folder.include_prompt().unwrap_or_else(|msg| {
            // The pooling check reads the same file: say a broken one once.
            if !self.errors.iter().any(|e| e.message == msg) {
                self.errors.push(ConfigError::file(self.models_path, field, msg));
            }
            true
        });
        (prompts, include)
    }

    fn pooling(&mut self, key: &str, config: &ModelConfig, folder: Option<&ModelFolder>) -> Pooling {
        let mut resolve = |set: Option<Result<Option<PoolingKind>, String>>| match set {
            Some(Ok(v)) => v,
            Some(Err(msg)) => {
                self.errors.push(ConfigError::file(self.models_path, format!("models.{key}.pooling"), msg));
                None
            }
            None => None,
        };
        let kind = config.pooling.or_else(|| resolve(folder.map(ModelFolder::pooling_from_folder)));
        let normalize = config.normalize.or_else(|| folder.and_then(|f| f.normalize_from_folder().ok().flatten()));
        Pooling { kind: kind.unwrap_or(PoolingKind::Mean), normalize: normalize.unwrap_or(true) }
    }
}
