//! The two embeddings APIs on the wire, as serde types: OpenAI's
//! (`POST /v1/embeddings`, <https://platform.openai.com/docs/api-reference/embeddings>)
//! and Text Embeddings Inference's (`POST /embed`, TEI's `router/src/http/types.rs`).
//! The client sends them and `embench serve` accepts them, so both sides read one definition.

use serde::{Deserialize, Serialize};

/// OpenAI's `input`: a string, a list of strings, or token ids (one list, or one per input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OpenAiInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
    /// One input as token ids.
    Tokens(Vec<u32>),
    /// Several inputs as token ids.
    ManyTokens(Vec<Vec<u32>>),
}

/// How OpenAI's response carries each vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A JSON array of numbers.
    #[default]
    Float,
    /// Little-endian f32 bytes, base64 (what OpenAI's Python client asks for).
    Base64,
}

/// OpenAI's request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiRequest {
    /// What to embed.
    pub input: OpenAiInput,
    /// The model asked for (a server serving one model may ignore it).
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<EncodingFormat>,
    /// Matryoshka truncation: the first `dimensions` values, L2-normalised again.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// An end-user id (accepted and ignored).
    #[serde(default)]
    pub user: Option<String>,
}

/// The body the client sends: the texts by reference, nothing copied.
#[derive(Debug, Serialize)]
pub struct OpenAiRequestRef<'a> {
    /// The texts.
    pub input: &'a [std::sync::Arc<str>],
    /// OpenAI's `model` field.
    pub model: &'a str,
}

/// One vector of OpenAI's response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiEmbedding {
    /// Always `embedding`.
    #[serde(default = "embedding_object")]
    pub object: String,
    /// Position of the input it embeds.
    pub index: usize,
    /// The vector.
    pub embedding: EmbeddingValue,
}

fn embedding_object() -> String {
    "embedding".into()
}

/// A vector as numbers or as base64 of little-endian f32s. Read by a visitor that
/// takes the array or the string as it comes: serde's `untagged` would buffer every
/// number first, which doubled the client's CPU time per response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingValue {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`.
    Base64(String),
}

impl<'de> Deserialize<'de> for EmbeddingValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EmbeddingValue;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of numbers or a base64 string")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<EmbeddingValue, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1024));
                while let Some(v) = seq.next_element::<f32>()? {
                    values.push(v);
                }
                Ok(EmbeddingValue::Float(values))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<EmbeddingValue, E> {
                Ok(EmbeddingValue::Base64(s.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl EmbeddingValue {
    /// The values.
    ///
    /// Errors: base64 that does not decode, or whose length is not a multiple of 4 bytes.
    pub fn values(self) -> Result<Vec<f32>, String> {
        match self {
            EmbeddingValue::Float(v) => Ok(v),
            EmbeddingValue::Base64(s) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())?;
                if bytes.len() % 4 != 0 {
                    return Err(format!("{} bytes of base64 are not whole f32 values", bytes.len()));
                }
                Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
        }
    }

    /// `values` as little-endian f32 bytes in base64.
    pub fn base64_of(values: &[f32]) -> Self {
        use base64::Engine;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        EmbeddingValue::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// OpenAI's token counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    /// Tokens of the inputs, special tokens included.
    pub prompt_tokens: u64,
    /// The same, for embeddings.
    pub total_tokens: u64,
}

/// OpenAI's response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiResponse {
    /// Always `list`.
    #[serde(default)]
    pub object: String,
    /// One vector per input.
    pub data: Vec<OpenAiEmbedding>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Token counts (some servers leave them out).
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// OpenAI's error body: `{"error": {"message", "type", "code"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiError {
    /// The error.
    pub error: OpenAiErrorBody,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiErrorBody {
    /// For people: what and the fix.
    pub message: String,
    /// `invalid_request_error`, `server_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending parameter, when one is.
    #[serde(default)]
    pub param: Option<String>,
    /// A short machine-readable code (`payload_too_large`, ...).
    #[serde(default)]
    pub code: Option<String>,
}

/// TEI's `inputs`: one text or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TeiInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// TEI's request body (`POST /embed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeiRequest {
    /// What to embed.
    pub inputs: TeiInput,
    /// L2-normalise the vectors (TEI's default: true).
    #[serde(default)]
    pub normalize: Option<bool>,
    /// Cut inputs longer than the model takes instead of refusing them (TEI's default: false).
    #[serde(default)]
    pub truncate: Option<bool>,
    /// Which end truncation cuts (`right`, TEI's default; `left`).
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// A named prompt (accepted only when absent: embench serve applies none).
    #[serde(default)]
    pub prompt_name: Option<String>,
    /// Matryoshka truncation, as OpenAI's `dimensions`.
    #[serde(default)]
    pub dimensions: Option<usize>,
}

/// The body the client sends to TEI: the texts by reference.
#[derive(Debug, Serialize)]
pub struct TeiRequestRef<'a> {
    /// The texts.
    pub inputs: &'a [std::sync::Arc<str>],
}

/// TEI's error body: `{"error": "...", "error_type": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeiError {
    /// What and the fix.
    pub error: String,
    /// `Validation`, `Overloaded`, `Backend`, `Tokenizer`, `Empty`.
    pub error_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_input_takes_a_string_a_list_and_token_ids() {
        let parse = |s: &str| serde_json::from_str::<OpenAiRequest>(s).map(|r| r.input);
        assert_eq!(parse(r#"{"input": "a"}"#).unwrap(), OpenAiInput::One("a".into()));
        assert_eq!(parse(r#"{"input": ["a", "b"]}"#).unwrap(), OpenAiInput::Many(vec!["a".into(), "b".into()]));
        assert_eq!(parse(r#"{"input": [1, 2]}"#).unwrap(), OpenAiInput::Tokens(vec![1, 2]));
        assert_eq!(parse(r#"{"input": [[1], [2, 3]]}"#).unwrap(), OpenAiInput::ManyTokens(vec![vec![1], vec![2, 3]]));
        assert!(parse(r#"{"input": 3}"#).is_err());
        assert!(parse(r#"{"input": "a", "unknown": 1}"#).is_err());
    }

    #[test]
    fn vectors_read_as_numbers_or_base64_and_nothing_else() {
        let v: EmbeddingValue = serde_json::from_str("[0.5, -1, 2e-3]").unwrap();
        assert_eq!(v, EmbeddingValue::Float(vec![0.5, -1.0, 2e-3]));
        let v: EmbeddingValue = serde_json::from_str(r#""AACAPw==""#).unwrap();
        assert_eq!(v.values().unwrap(), [1.0]);
        assert!(serde_json::from_str::<EmbeddingValue>(r#"[0.5, "a"]"#).is_err());
        assert!(serde_json::from_str::<EmbeddingValue>("{}").is_err());
    }

    #[test]
    fn base64_vectors_round_trip() {
        let v = [0.25f32, -1.5, 3.0];
        assert_eq!(EmbeddingValue::base64_of(&v).values().unwrap(), v);
        assert!(EmbeddingValue::Base64("AAA=".into()).values().is_err());
    }
}
