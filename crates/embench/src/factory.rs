//! The one place that knows which backends this binary was built with.

use embench_core::config::{ResolvedBackend, ResolvedModel};
use embench_core::{BackendKind, EmbedError, Embedder, Phase};
use embench_runner::execute::BackendFactory;
use embench_runner::manifest::BackendVersion;

/// Builds backends by kind, one `cfg` arm each.
pub struct Factory;

impl Factory {
    /// Why `kind` cannot run in this binary, or None when it can.
    pub fn unavailable(kind: BackendKind) -> Option<String> {
        match kind {
            BackendKind::Mock if cfg!(feature = "mock") => None,
            BackendKind::Candle if cfg!(feature = "candle") => None,
            BackendKind::Mock | BackendKind::Candle => {
                Some(format!("built without it (fix: cargo build -p embench --features {kind})"))
            }
            BackendKind::Ort | BackendKind::Openvino | BackendKind::Tch => {
                Some("not implemented in this version of embench yet".to_string())
            }
        }
    }

    /// The library version of a compiled-in backend.
    fn version(kind: BackendKind) -> Option<String> {
        match kind {
            #[cfg(feature = "candle")]
            BackendKind::Candle => Some(embench_candle::CANDLE_VERSION.to_string()),
            #[cfg(feature = "mock")]
            BackendKind::Mock => Some(env!("CARGO_PKG_VERSION").to_string()),
            _ => None,
        }
    }
}

fn not_available(kind: BackendKind) -> EmbedError {
    let why = Factory::unavailable(kind).unwrap_or_default();
    EmbedError::new("embench", Phase::Load, format!("backend '{kind}' cannot run: {why}"))
}

impl BackendFactory for Factory {
    fn load(&self, backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError> {
        match backend.kind {
            #[cfg(feature = "mock")]
            BackendKind::Mock => {
                let settings = backend.mock.clone().expect("validation fills mock settings");
                Ok(Box::new(embench_mock::MockEmbedder::new(settings)))
            }
            #[cfg(feature = "candle")]
            BackendKind::Candle => load_candle(backend, model),
            other => {
                let _ = model;
                Err(not_available(other))
            }
        }
    }

    fn versions(&self) -> Vec<BackendVersion> {
        BackendKind::ALL
            .iter()
            .map(|&k| BackendVersion {
                backend: k.name().into(),
                compiled: Factory::unavailable(k).is_none(),
                version: Factory::version(k),
            })
            .collect()
    }
}

#[cfg(feature = "candle")]
fn load_candle(backend: &ResolvedBackend, model: &ResolvedModel) -> Result<Box<dyn Embedder>, EmbedError> {
    use embench_core::config::DeviceKind;
    let load_err = |msg: String| EmbedError::new("candle", Phase::Load, msg);
    if let Some(arch) = &model.config.architecture {
        if arch.value != "bert" {
            return Err(load_err(format!(
                "model '{}' is a '{}' model; the candle backend runs the BERT family only (fix: remove candle for this model)",
                model.key, arch.value
            )));
        }
    }
    let folder = model.folder.as_ref().ok_or_else(|| load_err(format!("model '{}' has no local path", model.key)))?;
    let settings = embench_candle::CandleSettings {
        threads: backend.threads,
        cuda: backend.device == DeviceKind::Cuda,
        pooling: model.pooling,
    };
    Ok(Box::new(embench_candle::CandleEmbedder::load(folder, &settings)?))
}
