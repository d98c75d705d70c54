//! The machine a run measures: its facts, its resource tier and the settings it
//! recommends, RSS and CPU sampling during a cell, and the matmul peak MFU is taken against.

pub mod host;
pub mod peak;
pub mod resources;
pub mod tier;
