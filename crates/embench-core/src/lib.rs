//! embench core: what every backend and the runner share.
//!
//! - [`Embedder`]: the small synchronous trait every backend implements;
//! - [`config`]: `models.yaml` and `benchmark_config.yaml`, parsed and validated
//!   with errors that name the file, line, column, field and fix;
//! - [`tokenize`]: tokenization to an exact sequence length (or natural length);
//! - [`pooling`]: mean/CLS pooling and L2 normalisation, the same for every backend;
//! - [`dataset`]: seeded synthetic texts or a user's text/JSONL file.

#![warn(missing_docs)]

pub mod architecture;
pub mod backend;
pub mod children;
pub mod config;
pub mod dataset;
pub mod embedder;
pub mod head;
pub mod images;
pub mod model_files;
pub mod model_limits;
pub mod oversubscription;
pub mod parity;
pub mod pipe_worker;
pub mod pooling;
pub mod reference;
pub mod retrieval;
pub mod runtime_lib;
pub mod session_pool;
pub mod tokenize;
pub mod tower_config;
pub mod variants;

pub use architecture::{Architecture, Modality};
pub use backend::{Backend, BackendCatalog, BackendKind, Crates, LoadRequest};
pub use embedder::{
    BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, PhaseContext, PixelBatch, Precision,
    RequestInput, TokenizedBatch,
};
