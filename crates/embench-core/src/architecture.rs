//! The model contract: which network family a model is ([`Architecture`]), what
//! it embeds ([`Modality`]), and what each backend runs.
//!
//! The architecture comes from the model folder's `config.json` (`model_type`, as
//! transformers writes it) and must agree with `models.yaml`'s `architecture`;
//! each backend declares the architectures it runs ([`crate::backend::Backend`]),
//! and `embench validate` refuses a cell whose backend does not declare its model's.
//! After TEI's `Config` enum keyed on `model_type`
//! (text-embeddings-inference, `backends/candle/src/lib.rs`).

use serde::{Deserialize, Serialize};

/// A network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// BERT encoders (MiniLM, bge-small, e5-small): bidirectional, absolute positions.
    Bert,
    /// XLM-RoBERTa encoders (BGE-M3, multilingual-e5): BERT with RoBERTa's padding offset in positions.
    XlmRoberta,
    /// Qwen3 decoders used as embedders (Qwen3-Embedding): causal, grouped-query attention, last-token pooling.
    Qwen3,
    /// Gemma 3 text with bidirectional attention (EmbeddingGemma): sliding-window layers, a Dense head.
    Gemma3,
    /// CLIP: a causal text tower and a ViT image tower with projections.
    Clip,
    /// SigLIP: a text tower and a ViT image tower with an attention-pooling head.
    Siglip,
}

pub use embench_schema::Modality;

impl Architecture {
    /// Every architecture, in display order.
    pub const ALL: [Architecture; 6] = [
        Architecture::Bert,
        Architecture::XlmRoberta,
        Architecture::Qwen3,
        Architecture::Gemma3,
        Architecture::Clip,
        Architecture::Siglip,
    ];

    /// The name `models.yaml` uses.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::XlmRoberta => "xlm-roberta",
            Architecture::Qwen3 => "qwen3",
            Architecture::Gemma3 => "gemma3",
            Architecture::Clip => "clip",
            Architecture::Siglip => "siglip",
        }
    }

    /// The `model_type` transformers writes in `config.json` (EmbeddingGemma's text
    /// model is `gemma3_text`; the multimodal Gemma 3 is not an embedder).
    pub fn model_type(self) -> &'static str {
        match self {
            Architecture::Gemma3 => "gemma3_text",
            other => other.name(),
        }
    }

    /// The architecture of a `models.yaml` name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The architecture of a `config.json` `model_type`.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.model_type() == model_type)
    }

    /// What the model embeds.
    pub fn modalities(self) -> &'static [Modality] {
        match self {
            Architecture::Clip | Architecture::Siglip => &[Modality::Text, Modality::Image],
            _ => &[Modality::Text],
        }
    }

    /// The names of every architecture, for messages.
    pub fn names() -> String {
        Self::ALL.map(Architecture::name).join(", ")
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_model_types_round_trip() {
        for a in Architecture::ALL {
            assert_eq!(Architecture::from_name(a.name()), Some(a));
            assert_eq!(Architecture::from_model_type(a.model_type()), Some(a));
        }
        assert_eq!(Architecture::from_model_type("gemma3_text"), Some(Architecture::Gemma3));
        assert_eq!(Architecture::from_model_type("gemma3"), None, "the multimodal Gemma 3 is not an embedder");
        assert_eq!(Architecture::Clip.modalities(), [Modality::Text, Modality::Image]);
    }
}
