//! One cell: load the model fresh, time the first request, warm up, measure,
//! check correctness, and assemble the record from what each step returned.
//!
//! - [`start`]: loading the instances and the unrecorded warm-up;
//! - [`served`]: replicas × workers with optional dynamic batching;
//! - [`measure`]: repetitions, steadiness, the SLO search ([`slo`], [`stability`]);
//! - [`cache`]: the embedding-cache scenario ([`embedding_cache`], [`repeats`]);
//! - [`gate`]: the correctness gate at the cell's shape; [`retrieval`]: reduced precision's neighbours against fp32's; [`guard`]: every backend call checked;
//! - [`inputs`]: tokenized request batches, prepared before anything is timed;
//! - [`record`]: the record, assembled once.

pub mod cache;
pub mod embedding_cache;
pub mod gate;
pub mod guard;
pub mod inputs;
pub mod measure;
pub mod record;
pub mod repeats;
pub mod retrieval;
pub mod run;
pub mod served;
pub mod setup;
pub mod slo;
pub mod stability;
pub mod start;

pub use run::{run_cell, skipped_record};
pub use setup::{CellProgress, CellSetup, ModelLoader, RecordContext};
