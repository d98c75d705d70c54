//! The values a config may write more than one way: a batch size (one, a list
//! for a sweep, `sweep`, `auto`) and a sequence length (a token count or
//! `natural`; one standing alone for a list of it), with their serde and JSON
//! Schema forms.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_saphyr::Spanned;

/// The batch sizes of a batch-size sweep when the config says `batch_size: sweep`.
pub const DEFAULT_SWEEP: [usize; 8] = [1, 4, 8, 16, 32, 64, 128, 256];

/// `batch_size`: one size, or a sweep over several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchSpec {
    /// Every request carries this many texts.
    One(usize),
    /// One cell per size (a batch-size sweep).
    Sweep(Vec<usize>),
    /// The size this machine's resource tier recommends (`embench sysinfo`), resolved when the run starts.
    Auto,
}

impl schemars::JsonSchema for BatchSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchSpec".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a batch size, a list of them (a sweep), \"sweep\" or \"auto\"",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                {"enum": ["sweep", "auto"]}
            ]
        })
    }
}

impl Serialize for BatchSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSpec::One(n) => s.serialize_u64(*n as u64),
            BatchSpec::Sweep(v) => v.serialize(s),
            BatchSpec::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for BatchSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BatchSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a batch size (e.g. 32), a list of them (a sweep), \"sweep\" or \"auto\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BatchSpec, E> {
                Ok(BatchSpec::One(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BatchSpec, E> {
                usize::try_from(v)
                    .map(BatchSpec::One)
                    .map_err(|_| E::custom(format!("batch size {v} is negative; use a count of texts")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BatchSpec, E> {
                match v {
                    "sweep" => Ok(BatchSpec::Sweep(DEFAULT_SWEEP.to_vec())),
                    "auto" => Ok(BatchSpec::Auto),
                    other => Err(E::custom(format!(
                        "batch size '{other}' is neither a number, a list of numbers, \"sweep\" nor \"auto\""
                    ))),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<BatchSpec, A::Error> {
                let mut sizes = Vec::new();
                while let Some(n) = seq.next_element::<usize>()? {
                    sizes.push(n);
                }
                Ok(BatchSpec::Sweep(sizes))
            }
        }
        d.deserialize_any(V)
    }
}

/// The JSON Schema of a value written alone or as a list.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
pub(super) enum OneOrMany<T> {
    /// One value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

/// A list, or one value standing for a list of it (each item keeps its place in the file).
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Spanned<SeqLen>>, D::Error> {
    /// Either shape, before the single value gets the place of the whole.
    enum Shape {
        One(SeqLen),
        Many(Vec<Spanned<SeqLen>>),
    }
    impl<'de> Deserialize<'de> for Shape {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Shape;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a sequence length (e.g. 128 or \"natural\") or a list of them")
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Shape, E> {
                    SeqLen::deserialize(de::value::U64Deserializer::new(v)).map(Shape::One)
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Shape, E> {
                    SeqLen::deserialize(de::value::I64Deserializer::new(v)).map(Shape::One)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape, E> {
                    SeqLen::deserialize(de::value::StrDeserializer::new(v)).map(Shape::One)
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                    let mut items = Vec::new();
                    while let Some(item) = seq.next_element()? {
                        items.push(item);
                    }
                    Ok(Shape::Many(items))
                }
            }
            d.deserialize_any(V)
        }
    }
    let whole = Spanned::<Shape>::deserialize(d)?;
    Ok(match whole.value {
        Shape::One(v) => vec![Spanned::new(v, whole.referenced, whole.defined)],
        Shape::Many(items) => items,
    })
}

/// A sequence length: an exact token count, or the texts' natural length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeqLen {
    /// Pad or truncate every input to exactly this many tokens.
    Tokens(usize),
    /// Tokenize as is; pad each batch to its longest input.
    Natural,
}

impl fmt::Display for SeqLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqLen::Tokens(n) => write!(f, "{n}"),
            SeqLen::Natural => f.write_str("natural"),
        }
    }
}

impl schemars::JsonSchema for SeqLen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SeqLen".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a token count (e.g. 128) or \"natural\"",
            "anyOf": [{"type": "integer", "minimum": 2}, {"const": "natural"}]
        })
    }
}

impl Serialize for SeqLen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SeqLen::Tokens(n) => s.serialize_u64(*n as u64),
            SeqLen::Natural => s.serialize_str("natural"),
        }
    }
}

impl<'de> Deserialize<'de> for SeqLen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SeqLen;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a token count (e.g. 128) or \"natural\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SeqLen, E> {
                Ok(SeqLen::Tokens(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SeqLen, E> {
                usize::try_from(v).map(SeqLen::Tokens).map_err(|_| {
                    E::custom(format!("sequence length {v} is negative; use a token count or \"natural\""))
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SeqLen, E> {
                match v {
                    "natural" => Ok(SeqLen::Natural),
                    other => {
                        Err(E::custom(format!("sequence length '{other}' is neither a token count nor \"natural\"")))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}
