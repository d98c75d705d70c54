//! A `backends` entry: the keys every backend shares, and the rest kept for the
//! backend's crate to read ([`super::settings`]).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use super::execution::Count;
use crate::embedder::Precision;

/// One backend and its settings: the shared keys typed here, every other key kept as
/// written for the backend's crate (its settings block, or the old flat form).
#[derive(Debug, Clone)]
pub struct BackendSpec {
    /// The framework's name.
    pub name: Spanned<String>,
    /// Name in results and reports.
    pub label: Option<Spanned<String>>,
    /// Precision.
    pub precision: Option<Spanned<Precision>>,
    /// Intra-op threads.
    pub threads: Option<Spanned<Count>>,
    /// `cpu`, `cuda` or `auto`.
    pub device: Option<Spanned<String>>,
    /// Every other key with its value as written (its settings block, e.g. `ort`, or
    /// flat keys of it), in file order.
    pub extra: Vec<(Spanned<String>, serde_json::Value)>,
}

/// The keys every backend entry has.
pub const SHARED_KEYS: [&str; 5] = ["name", "label", "precision", "threads", "device"];

impl BackendSpec {
    /// The backend `name` with every setting at its default.
    pub fn named(name: Spanned<String>) -> Self {
        Self { name, label: None, precision: None, threads: None, device: None, extra: Vec::new() }
    }
}

// The shared keys of a backend entry, for the JSON Schema: `json_schemas` adds each
// backend crate's settings block.
#[derive(schemars::JsonSchema)]
#[schemars(
    rename = "BackendSpec",
    description = "One backend: the keys every backend shares, and its own settings in a block under its key (e.g. `ort: {sessions: 2}`)."
)]
#[allow(dead_code)] // only its schema is used
pub(super) struct BackendSpecSchema {
    /// The framework: `candle`, `ort`, `ort-native`, `openvino`, `tch`, `python-ort`,
    /// `python-torch` or `python-openvino`; an endpoint, `http`; or a harness check, `mock` or `python-echo`.
    name: String,
    /// Name in results and reports (default: `name`); needed when a backend is listed twice.
    label: Option<String>,
    /// Precision: `fp32` (default), or `bf16`/`fp16`/`int8` where the framework offers it
    /// (`embench validate` names what it offers); int8 and fp16 files come from
    /// `scripts/convert_models.sh`, and a reduced precision runs the retrieval check (`quality`).
    precision: Option<Precision>,
    /// Intra-op threads, a number or `auto` (default, the same: the physical cores this process may use).
    threads: Option<Count>,
    /// `cpu` (default), `cuda` or `auto` (the GPU where the machine's tier recommends it).
    device: Option<String>,
}

impl<'de> Deserialize<'de> for BackendSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BackendSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping such as {name: ort, ort: {sessions: 4}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BackendSpec, A::Error> {
                let mut name = None;
                let mut spec = BackendSpec::named(Spanned::new(String::new(), Location::UNKNOWN, Location::UNKNOWN));
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.value.as_str() {
                        "name" => name = Some(map.next_value()?),
                        "label" => spec.label = Some(map.next_value()?),
                        "precision" => spec.precision = Some(map.next_value()?),
                        "threads" => spec.threads = Some(map.next_value()?),
                        "device" => spec.device = Some(map.next_value()?),
                        _ => {
                            let value = map.next_value::<serde_json::Value>()?;
                            spec.extra.push((key, value));
                        }
                    }
                }
                spec.name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                Ok(spec)
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for BackendSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.name.value)?;
        if let Some(l) = &self.label {
            map.serialize_entry("label", &l.value)?;
        }
        if let Some(p) = &self.precision {
            map.serialize_entry("precision", &p.value)?;
        }
        if let Some(t) = &self.threads {
            map.serialize_entry("threads", &t.value)?;
        }
        if let Some(d) = &self.device {
            map.serialize_entry("device", &d.value)?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(&k.value, v)?;
        }
        map.end()
    }
}

/// A `backends` entry as written: a name alone, or a mapping of settings (only its schema is used).
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
pub(super) enum BackendEntry {
    /// `candle`: the backend with its defaults.
    Name(String),
    /// `{name: ort, ort: {sessions: 4}}`.
    Spec(BackendSpecSchema),
}

/// The `backends` list: each entry a mapping, or a bare name standing for `{name: ...}`
/// (the name keeps its place in the file for error messages).
pub(super) fn backend_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<BackendSpec>>, D::Error> {
    /// One entry, before a bare name gets the place of the whole.
    enum Entry {
        Name(String),
        Spec(Box<BackendSpec>),
    }
    impl<'de> Deserialize<'de> for Entry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entry;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a backend name (e.g. candle) or a mapping such as {name: ort, ort: {sessions: 4}}")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
                    Ok(Entry::Name(v.to_string()))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Entry, A::Error> {
                    BackendSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                        .map(|s| Entry::Spec(Box::new(s)))
                }
            }
            d.deserialize_any(V)
        }
    }
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Option<Vec<BackendSpec>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of backends, e.g. [candle, ort] or '- name: ort'")
        }
        /// `backends:` with nothing after it is `backends` omitted: every framework.
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = seq.next_element::<Spanned<Entry>>()? {
                out.push(match entry.value {
                    Entry::Spec(spec) => *spec,
                    Entry::Name(name) => BackendSpec::named(Spanned::new(name, entry.referenced, entry.defined)),
                });
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(List)
}
