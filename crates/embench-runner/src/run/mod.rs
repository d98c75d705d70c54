//! A run: the plan of cells, their execution in order (each on a fresh thread, or
//! in worker processes under isolation), the pre-flight memory estimate, and progress.

pub mod estimate;
pub mod execute;
pub mod isolate;
pub mod plan;
pub mod ticker;
