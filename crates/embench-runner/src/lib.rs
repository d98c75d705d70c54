//! embench runner: turns a validated config into measured cells.
//!
//! - [`plan`]: the cells of a run (model × backend × scenario × sequence length);
//! - [`inputs`]: tokenized request batches, prepared before anything is timed;
//! - [`load`]: the load generator (closed loop, open loop, offline) on dedicated threads;
//! - [`arrivals`]: open-loop arrival schedules (fixed, Poisson);
//! - [`histogram`]: per-client HdrHistograms, merged at the end;
//! - [`resources`]: RSS and CPU sampling of this process;
//! - [`serve`]: replicas × workers with optional dynamic batching;
//! - [`isolate`]: worker processes per model × backend, crash and timeout records;
//! - [`cell`]: one cell from model load to its result record;
//! - [`guard`]: every backend call: panics become errors, outputs checked for NaN/Inf;
//! - [`gate`]: the correctness gate at each cell's shape;
//! - [`measure`]: repetitions, minimum durations, the SLO search;
//! - [`stability`]: steady-state windows, confidence intervals, outliers;
//! - [`slo`]: the latency-bounded throughput search;
//! - [`results`], [`manifest`], [`host`]: what lands in the run directory;
//! - [`tier`]: resource tiers and recommended settings from the host's facts.

pub mod arrivals;
pub mod cache_cell;
pub mod cell;
pub mod execute;
pub mod gate;
pub mod guard;
pub mod host;
pub mod inputs;
pub mod isolate;
pub mod load;
pub mod measure;
pub mod peak;
pub mod plan;
pub mod resources;
pub mod serve;
pub mod slo;
pub mod stability;
pub mod ticker;
pub mod tier;

pub use cell::{run_cell, CellProgress, CellSetup, Loader};
pub use embench_schema::{histogram, manifest, CellRecord, RecordSink, ResultsWriter, SCHEMA_VERSION};
pub use execute::{execute, execute_cells, BackendFactory, RunError, RunObserver, RunOutcome};
pub use plan::{Cell, CellFilter, RunPlan};

/// The record types and the jsonl writer, from `embench-schema`.
pub mod results {
    pub use embench_schema::jsonl::*;
    pub use embench_schema::record::*;
}
