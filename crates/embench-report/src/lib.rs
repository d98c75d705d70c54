//! `embench report` and `embench compare`: markdown, CSV and charts from run
//! directories alone (`manifest.json` + `results.jsonl`), so they work on
//! results copied from other machines.

#![warn(missing_docs)]

pub mod bindings_sections;
pub mod charts;
pub mod compare;
pub mod csv_export;
pub mod fmt;
pub mod http_sections;
pub mod image_sections;
pub mod load_sections;
pub mod markdown;
pub mod python_sections;
pub mod quality_sections;
pub mod runs;
pub mod sections;
pub mod table;

pub use runs::{load_runs, Entry, ReportError, Run, Runs};
