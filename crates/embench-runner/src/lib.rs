//! embench runner: turns a validated config into measured cells.
//!
//! - [`run`]: the plan (model × backend × scenario × sequence length), its execution
//!   cell after cell, worker-process isolation, the pre-flight estimate;
//! - [`cell`]: one cell from model loading to its record: inputs, the load and
//!   warm-up, direct or served requests, the measured phase, the SLO search, the
//!   cache scenario, the correctness gate, and the record assembled once at the end;
//! - [`loadgen`]: the load generator: one worker loop for closed loop, open loop and
//!   offline, and open-loop arrival schedules;
//! - [`machine`]: the host's facts, its tier, resource sampling and the matmul peak.
//!
//! What is written (records, manifest, histograms) is `embench-schema`'s.

#![warn(missing_docs)]

pub mod cell;
pub mod loadgen;
pub mod machine;
pub mod methodology;
pub mod run;

pub use cell::{run_cell, CellProgress, CellSetup, ModelLoader};
pub use embench_schema::{CellRecord, RecordSink, ResultsWriter, SCHEMA_VERSION};
pub use methodology::METHODOLOGY;
pub use run::execute::{execute, execute_cells, BackendFactory, RunError, RunObserver, RunOutcome};
pub use run::plan::{Cell, CellFilter, RunPlan};
