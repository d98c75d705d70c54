//! The one place that knows which backends this binary was built with: one `cfg`
//! arm per backend crate ([`backend`]); everything else asks the crate's [`Backend`].

use std::path::PathBuf;

use embench_core::config::{ResolvedBackend, ResolvedModel};
use embench_core::model_files::ModelFolder;
use embench_core::{
    Architecture, Backend, BackendCatalog, BackendKind, EmbedError, Embedder, LoadRequest, Modality, Phase,
};
use embench_runner::run::execute::BackendFactory;
use embench_schema::manifest::BackendVersion;

/// The crate of `kind`, or why this binary has none (and how to build it in).
pub fn backend(kind: BackendKind) -> Result<&'static dyn Backend, String> {
    match kind {
        #[cfg(feature = "mock")]
        BackendKind::Mock => Ok(&embench_mock::MockBackend),
        #[cfg(feature = "candle")]
        BackendKind::Candle => Ok(&embench_candle::CandleBackend),
        #[cfg(feature = "ort")]
        BackendKind::Ort => Ok(&embench_ort::OrtBackend),
        #[cfg(feature = "ort-native")]
        BackendKind::OrtNative => Ok(&embench_ort_native::OrtNativeBackend),
        #[cfg(feature = "openvino")]
        BackendKind::Openvino => Ok(&embench_openvino::OpenvinoBackend),
        #[cfg(feature = "tch")]
        BackendKind::Tch => Ok(&embench_tch::TchBackend),
        #[cfg(feature = "http")]
        BackendKind::Http => Ok(&embench_http::HttpBackend),
        #[cfg(feature = "python")]
        k if k.is_python() => Ok(embench_python::backend::backend(k).expect("a python kind")),
        // Reached only when some backend is not compiled in.
        #[allow(unreachable_patterns)]
        other => Err(not_compiled(other)),
    }
}

/// How to build `kind` in.
fn not_compiled(kind: BackendKind) -> String {
    if kind == BackendKind::Tch {
        return "built without it: libtorch is linked at build time (fix: `make build`, which runs \
                LIBTORCH_USE_PYTORCH=1 PATH=.venv/bin:$PATH cargo build -p embench --features tch)"
            .to_string();
    }
    let feature = if kind.is_python() { "python".to_string() } else { kind.to_string() };
    format!("built without it (fix: cargo build -p embench --features {feature})")
}

/// Builds backends by kind and answers validation's questions about them.
pub struct Factory;

impl Factory {
    /// Why `kind` cannot run in this binary, or None when it can.
    pub fn unavailable(kind: BackendKind) -> Option<String> {
        backend(kind).err()
    }

    /// Why `kind` cannot run on this machine, or None when it can: not compiled in, or
    /// its runtime missing. ort and openvino: the library is found and loads (dlopen);
    /// the python-* backends: the interpreter runs and imports numpy. Checked when a
    /// config is validated, so a bad `ORT_DYLIB_PATH` fails before anything runs.
    pub fn usable(kind: BackendKind) -> Option<String> {
        match backend(kind) {
            Err(why) => Some(why),
            Ok(b) => b.runtime_problem(),
        }
    }
}

/// Validation's view of this binary's backends: each one's runtime checked, and
/// what each runs.
pub struct Catalog {
    /// Check the runtimes (the parent process), or only what is compiled in (a
    /// worker process: loading other frameworks' libraries would count in its memory).
    pub check_runtimes: bool,
}

impl BackendCatalog for Catalog {
    fn unusable(&self, kind: BackendKind) -> Option<String> {
        if self.check_runtimes {
            Factory::usable(kind)
        } else {
            Factory::unavailable(kind)
        }
    }

    fn architectures(&self, kind: BackendKind) -> Option<&'static [Architecture]> {
        backend(kind).ok().and_then(|b| b.architectures())
    }

    fn model_files(&self, folder: &ModelFolder, entry: &ResolvedBackend) -> Vec<PathBuf> {
        backend(entry.kind).map(|b| b.model_files(folder, entry)).unwrap_or_default()
    }

    fn backend(&self, kind: BackendKind) -> Option<&'static dyn Backend> {
        backend(kind).ok()
    }
}

impl BackendFactory for Factory {
    fn load(
        &self,
        backend_entry: &ResolvedBackend,
        model: &ResolvedModel,
        modality: Modality,
    ) -> Result<Box<dyn Embedder>, EmbedError> {
        let b = backend(backend_entry.kind).map_err(|why| {
            EmbedError::new("embench", Phase::Load, format!("backend '{}' cannot run: {why}", backend_entry.kind))
        })?;
        // Intra-op threads: as configured, else (unset or `auto`) the physical cores this
        // process may use, container quota applied (recorded either way).
        let threads = backend_entry.threads.unwrap_or_else(embench_runner::machine::host::effective_cores);
        b.load(&LoadRequest { backend: backend_entry, model, threads, modality })
    }

    fn versions(&self) -> Vec<BackendVersion> {
        BackendKind::ALL
            .iter()
            .map(|&k| BackendVersion {
                backend: k.name().into(),
                compiled: backend(k).is_ok(),
                version: backend(k).ok().map(|b| b.version()),
            })
            .collect()
    }
}
