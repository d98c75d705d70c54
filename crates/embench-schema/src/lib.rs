//! embench schema: the plain serde types of everything a run writes, and the
//! jsonl reader and writer. The runner writes through it; the report reads
//! through it and nothing else, so a report is made from files alone.
//!
//! - [`record`]: one cell's result, a line of `results.jsonl` (`schema/result.schema.json`);
//! - [`manifest`]: `manifest.json`, with the host's facts and the run's provenance;
//! - [`histogram`]: the latency histogram and its HdrHistogram V2 codec;
//! - [`http`]: what an `http` cell's client saw on the wire;
//! - [`stats`]: steady-state windows, estimates over repetitions, the SLO search's answer;
//! - [`kinds`]: the closed sets (precision, load mode, scenario kind, worker failure);
//! - [`jsonl`]: the durable writer and the readers (whole file, or complete cells for `--resume`).

#![warn(missing_docs)]

pub mod histogram;
pub mod http;
pub mod jsonl;
pub mod kinds;
pub mod manifest;
pub mod record;
pub mod stats;

pub use histogram::{LatencyHistogram, LatencySummary};
pub use http::HttpFigures;
pub use jsonl::{read_complete_cells, read_records, RecordSink, ResultsWriter};
pub use kinds::{CacheLimit, LoadMode, Modality, Precision, ScenarioKind, WorkerFailureKind};
pub use manifest::{BackendVersion, CellFilter, HostFacts, Manifest};
pub use record::{CellRecord, RetrievalFigures, SCHEMA_VERSION};
