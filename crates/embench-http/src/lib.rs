//! embench's `http` backend: any embeddings endpoint that speaks OpenAI's API
//! (`POST /v1/embeddings`) or Text Embeddings Inference's (`POST /embed`) —
//! `embench serve`, TEI, infinity, vLLM, a managed service — driven by the same
//! load generator, gate and records as an in-process backend.
//!
//! - [`api`]: the two APIs' request and response bodies (shared with `embench serve`);
//! - [`client`]: the embedder: texts in, one POST per request, vectors checked and counted;
//! - [`wire`]: connections and HTTP bytes counted under ureq.
//!
//! Requests carry the cell's texts ([`embench_core::TokenizedBatch::texts`]): cut to
//! the cell's length with the model's tokenizer when its folder is known, else the
//! dataset's texts as they are. The server tokenizes them, as TEI does.

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod settings;
pub mod wire;

use embench_core::config::{BlockSchema, ConfigError, Settings, SettingsSource};
use embench_core::{Architecture, Backend, BackendKind, EmbedError, Embedder, LoadRequest, Modality, Phase, Precision};

pub use client::HttpEmbedder;
pub use settings::{HttpApi, HttpOptions};

/// The ureq release this client is built on (Cargo.lock pins it).
pub const UREQ_VERSION: &str = "3.5";

/// The `http` backend.
pub struct HttpBackend;

impl Backend for HttpBackend {
    fn version(&self) -> String {
        format!("ureq {UREQ_VERSION}")
    }

    /// Any: the server runs the model.
    fn architectures(&self) -> Option<&'static [Architecture]> {
        None
    }

    /// Any: what the server runs, declared (the gate's threshold follows it).
    fn precisions(&self) -> &'static [Precision] {
        &[Precision::Fp32, Precision::Fp16, Precision::Bf16, Precision::Int8]
    }

    fn settings_block(&self) -> Option<BlockSchema> {
        Some(BlockSchema::of::<settings::HttpBlock>(vec![BackendKind::Http]))
    }

    fn settings(&self, source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
        settings::settings(source)
    }

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let options = request.backend.settings::<HttpOptions>().ok_or_else(|| {
            EmbedError::new("http", Phase::Load, "the http backend has no settings (fix: give it a 'url')")
        })?;
        if request.modality == Modality::Image {
            return Err(EmbedError::new(
                "http",
                Phase::Load,
                "the http backend sends texts; image cells are not supported",
            ));
        }
        Ok(Box::new(HttpEmbedder::connect(options, &request.model.key, request.backend.precision)?))
    }
}
