//! Closed sets written in results: each an enum whose serde form is the string
//! the files have always held.

use serde::{Deserialize, Serialize};

/// Numeric precision a backend computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float.
    #[default]
    Fp32,
    /// 16-bit float.
    Fp16,
    /// bfloat16.
    Bf16,
    /// 8-bit integer quantisation.
    Int8,
}

impl Precision {
    /// The name written in configs and results (`fp32`, `fp16`, `bf16`, `int8`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the embedding cache is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheLimit {
    /// At most this many entries.
    Entries(usize),
    /// At most this many accounted bytes.
    Bytes(usize),
}

/// Defines a fieldless enum written as a snake_case string, with `as_str` and `Display`.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The name written in results.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// What kind of scenario a record came from.
    ScenarioKind {
        /// One batch size, one record.
        Fixed => "fixed",
        /// One record per batch size.
        BatchSweep => "batch_sweep",
        /// One record per repeat ratio and cache phase.
        Cache => "cache",
        /// The latency-bounded throughput search: the best passing probe's figures.
        SloSearch => "slo_search",
    }
}

#[allow(clippy::derivable_impls)] // the macro's derive list has no Default
impl Default for ScenarioKind {
    fn default() -> Self {
        ScenarioKind::Fixed
    }
}

named_enum! {
    /// How the load generator offered requests in the measured phase.
    LoadMode {
        /// A fixed number of clients, each sending its next request when the last returns.
        ClosedLoop => "closed_loop",
        /// Requests at scheduled times (fixed or Poisson), latency from the scheduled time.
        OpenLoop => "open_loop",
        /// Every request queued at once: throughput only.
        Offline => "offline",
    }
}

named_enum! {
    /// Why a cell's worker process did not deliver its result.
    WorkerFailureKind {
        /// It died (a signal or a non-zero exit) before sending every record.
        Crashed => "crashed",
        /// It ran past the cell timeout and was killed.
        TimedOut => "timed_out",
        /// It could not be started.
        FailedToStart => "failed_to_start",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums keep the strings results have always held, both ways.
    #[test]
    fn closed_sets_are_written_as_before() {
        let cases: Vec<(String, &str)> = vec![
            (serde_json::to_string(&ScenarioKind::BatchSweep).unwrap(), "\"batch_sweep\""),
            (serde_json::to_string(&ScenarioKind::SloSearch).unwrap(), "\"slo_search\""),
            (serde_json::to_string(&LoadMode::OpenLoop).unwrap(), "\"open_loop\""),
            (serde_json::to_string(&WorkerFailureKind::FailedToStart).unwrap(), "\"failed_to_start\""),
            (serde_json::to_string(&Precision::Bf16).unwrap(), "\"bf16\""),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(serde_json::from_str::<LoadMode>("\"closed_loop\"").unwrap(), LoadMode::ClosedLoop);
        assert_eq!(ScenarioKind::default().as_str(), "fixed");
    }
}

/// What a model (or one tower of it) embeds, and what a cell measured.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Token ids.
    #[default]
    Text,
    /// Pixel batches `[batch, 3, H, W]`, f32.
    Image,
}

impl Modality {
    /// Both, in display order.
    pub const ALL: [Modality; 2] = [Modality::Text, Modality::Image];

    /// `text` or `image`.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Image => "image",
        }
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
