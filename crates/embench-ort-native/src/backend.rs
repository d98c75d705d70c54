//! What the ort-native crate provides to the binary's factory.

use std::path::PathBuf;

use embench_core::config::{BlockSchema, ConfigError, ResolvedBackend, Settings, SettingsSource};
use embench_core::model_files::ModelFolder;
use embench_core::runtime_lib::{self, ONNXRUNTIME};
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Modality, Phase};
use embench_ort::settings::OrtBlock;
use embench_ort::{ExecutionProvider, OrtOptions};

use crate::{worker, OrtNativeSettings, FRAMEWORK};

/// ONNX Runtime's C++ API in a worker process: the converted ONNX graph of any
/// architecture the converter exports, as the ort backend runs it.
pub struct OrtNativeBackend;

impl Backend for OrtNativeBackend {
    fn version(&self) -> String {
        let library = runtime_lib::locate(&ONNXRUNTIME)
            .map_or_else(|e| format!("library missing: {e}"), |p| p.display().to_string());
        match worker() {
            Ok(w) => format!("C++ worker {} + {library}", w.display()),
            Err(why) => format!("{why} + {library}"),
        }
    }

    /// The worker is built (else "not built", with the fix) and the library loads.
    fn runtime_problem(&self) -> Option<String> {
        if let Err(why) = worker() {
            return Some(why);
        }
        runtime_lib::onnxruntime_problem()
    }

    fn architectures(&self) -> Option<&'static [Architecture]> {
        Some(&Architecture::ALL)
    }

    fn model_files(&self, folder: &ModelFolder, _backend: &ResolvedBackend) -> Vec<PathBuf> {
        folder.onnx_networks()
    }

    fn instead_of(&self, key: &str) -> Option<String> {
        (key == "processes")
            .then(|| "use 'ort: {sessions: N}' (each of ort-native's sessions is one worker process)".to_string())
    }

    /// ort's block: each of its sessions is one worker process.
    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<OrtBlock>(vec![BackendKind::OrtNative]))
    }

    /// ort's settings, on the CPU with the CPU provider only (the worker registers no other).
    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        let read = embench_ort::settings::read(source);
        let mut errors: Vec<ConfigError> = source
            .cpu_only(
                "remove 'device' (ort-native is CPU only), or use the ort backend with execution_providers: [cuda]",
            )
            .into_iter()
            .collect();
        match read {
            Err(e) => errors.extend(e),
            Ok((_, block))
                if block
                    .execution_providers
                    .as_ref()
                    .is_some_and(|l| l.value.iter().any(|p| *p != ExecutionProvider::Cpu)) =>
            {
                let list = block.execution_providers.as_ref().expect("checked just above");
                let e = source.at(list, "execution_providers", "ort-native's worker runs the CPU provider only");
                errors.push(e.fix("use execution_providers: [cpu], or the ort backend for another provider"));
            }
            Ok((options, _)) if errors.is_empty() => return Ok(Some(Settings::new(options))),
            Ok(_) => {}
        }
        Err(errors)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        request.cpu_only(FRAMEWORK)?;
        let library = runtime_lib::locate(&ONNXRUNTIME).map_err(|m| EmbedError::new(FRAMEWORK, Phase::Load, m))?;
        let settings = OrtNativeSettings {
            threads: request.threads,
            options: request.backend.settings::<OrtOptions>().cloned().unwrap_or_default(),
            modality: request.modality,
            image_size: match request.modality {
                Modality::Text => None,
                Modality::Image => Some(request.image_size(FRAMEWORK)?),
            },
        };
        Ok(Box::new(crate::load(&request.onnx_network(FRAMEWORK)?, &library, &settings)?))
    }
}
