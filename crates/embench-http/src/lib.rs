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
pub mod wire;

use embench_core::{Architecture, Backend, EmbedError, Embedder, LoadRequest, Modality, Phase};

pub use client::HttpEmbedder;

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

    fn load(&self, request: &LoadRequest) -> Result<Box<dyn Embedder>, EmbedError> {
        let options = request.backend.http.as_ref().ok_or_else(|| {
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
