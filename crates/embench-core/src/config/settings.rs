//! A backend's own settings, owned by its crate.
//!
//! A backend entry holds the keys every backend shares (`name`, `label`, `precision`,
//! `threads`, `device`) and, under the key of the crate's block, its own:
//! `{name: ort, ort: {sessions: 2}}`. The crate declares the block's type (a
//! [`SettingsBlock`]: serde for parsing, schemars for the shipped JSON Schema), reads it
//! with [`SettingsSource::read`] and checks it ([`crate::Backend::settings`]); core only
//! routes keys. The flat form of earlier configs (`{name: ort, sessions: 2}`) still
//! reads, with a warning naming the block form.
//!
//! The block is read from the config's text again with serde-saphyr, so its errors
//! carry the line and column of the value, as every other config error does.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Serializer;
use serde_saphyr::Spanned;

use super::backend_entry::BackendSpec;
use super::error::ConfigError;
use crate::backend::BackendKind;

/// A backend's resolved settings, as its crate checked them.
pub trait BackendSettings: fmt::Debug + Send + Sync + 'static {
    /// The settings as JSON (the config echo; equal settings give equal JSON).
    fn to_json(&self) -> serde_json::Value;

    /// How many instances run requests at once, each with its own intra-op threads
    /// (used by the oversubscription check, [`crate::oversubscription`]).
    fn parallelism(&self) -> Parallelism {
        Parallelism::default()
    }
}

/// Instances of a backend that run requests at once, each with its own intra-op
/// threads: ort's sessions, ort-native's and the Python baselines' worker processes,
/// OpenVINO's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Instances (default 1).
    pub instances: usize,
    /// Inter-op threads each instance runs beside its intra-op ones (ONNX Runtime's
    /// parallel execution mode; default 0).
    pub inter_op_threads: usize,
}

impl Default for Parallelism {
    fn default() -> Self {
        Self { instances: 1, inter_op_threads: 0 }
    }
}

/// A backend's settings behind one type: its crate reads them back with [`Settings::get`].
#[derive(Clone)]
pub struct Settings {
    any: Arc<dyn Any + Send + Sync>,
    view: Arc<dyn BackendSettings>,
}

impl Settings {
    /// Wraps a crate's resolved settings.
    pub fn new<T: BackendSettings>(settings: T) -> Self {
        let shared = Arc::new(settings);
        Self { any: shared.clone(), view: shared }
    }

    /// The crate's settings type, or None when they are of another type.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.any.downcast_ref()
    }

    /// See [`BackendSettings::parallelism`].
    pub fn parallelism(&self) -> Parallelism {
        self.view.parallelism()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view.fmt(f)
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        self.view.to_json() == other.view.to_json()
    }
}

impl serde::Serialize for Settings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view.to_json().serialize(s)
    }
}

/// The type of a backend's settings block as written (every field optional, so the
/// flat form can give some of them).
pub trait SettingsBlock: DeserializeOwned + schemars::JsonSchema + Default {
    /// The block's key in a backend entry, e.g. `ort`.
    const KEY: &'static str;

    /// A setting to show in a message, e.g. `sessions: 2` (default: its first key).
    fn example() -> String {
        format!("{}: ...", Self::keys().into_iter().next().unwrap_or_default())
    }

    /// Its keys, from its JSON Schema.
    fn keys() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(Self)).expect("a schema is JSON");
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }
}

/// How an entry gave its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Under the block's key.
    Nested,
    /// As keys of the entry itself (deprecated).
    Flat,
}

/// One backend entry, for its crate to read and check its settings from.
pub struct SettingsSource<'a> {
    /// The config file's text.
    pub text: &'a str,
    /// The config file (for messages).
    pub path: &'a Path,
    /// The entry's index in `backends`.
    pub index: usize,
    /// The backend.
    pub kind: BackendKind,
    /// The entry's shared keys.
    pub spec: &'a BackendSpec,
    form: RefCell<Option<(Form, &'static str)>>,
    /// The key of the block last read.
    block_key: Cell<&'static str>,
    warnings: RefCell<Vec<String>>,
}

impl<'a> SettingsSource<'a> {
    /// The source of entry `index` of the config at `path` whose text is `text`.
    pub fn new(text: &'a str, path: &'a Path, index: usize, kind: BackendKind, spec: &'a BackendSpec) -> Self {
        Self {
            text,
            path,
            index,
            kind,
            spec,
            form: RefCell::new(None),
            block_key: Cell::new(""),
            warnings: RefCell::new(Vec::new()),
        }
    }

    /// Reads the entry's block `S`, nested or (deprecated, with a warning) flat; the
    /// default when the entry gives neither.
    ///
    /// Errors: a value of the wrong type or an unknown key inside the block, with its
    /// line and column; both forms in one entry.
    pub fn read<S: SettingsBlock>(&self) -> Result<S, Vec<ConfigError>> {
        self.block_key.set(S::KEY);
        let keys = S::keys();
        if !self.spec.extra.iter().any(|(k, _)| k.value == S::KEY || keys.contains(&k.value)) {
            return Ok(S::default());
        }
        let seed = DocSeed::<S> { index: self.index, keys: &keys, _s: PhantomData };
        let read = serde_saphyr::with_deserializer_from_str(self.text, |d| seed.deserialize(d)).map_err(|e| {
            vec![self.placed(super::parse::from_saphyr(self.path, self.text, &e), S::KEY, &keys, &S::example())]
        })?;
        let Some(entry) = read else {
            return Ok(S::default());
        };
        // The first flat key as written: where the flat form is pointed at.
        let first = entry.flat_keys.first().and_then(|f| self.spec.extra.iter().find(|(k, _)| &k.value == f));
        let first = first.map_or(&self.spec.name, |(k, _)| k);
        match (entry.nested, entry.flat_keys.is_empty()) {
            (Some(_), false) => {
                let e = ConfigError::at(
                    self.path,
                    first,
                    format!("backends[{}].{}", self.index, S::KEY),
                    format!(
                        "'{}' beside an '{}:' block: a setting goes inside the block, or (the old flat form) every setting beside 'name'",
                        entry.flat_keys.join("', '"),
                        S::KEY
                    ),
                );
                Err(vec![e.fix(format!("move {} into the '{}:' block", entry.flat_keys.join(", "), S::KEY))])
            }
            (Some(nested), true) => {
                *self.form.borrow_mut() = Some((Form::Nested, S::KEY));
                Ok(nested)
            }
            (None, _) => {
                *self.form.borrow_mut() = Some((Form::Flat, S::KEY));
                let moved: Vec<String> = entry.flat_keys.iter().map(|k| format!("{k}: ...")).collect();
                self.warn(format!(
                    "{}:{}:{}: backends[{}] ({}): '{}' beside 'name' is the old flat form, deprecated (fix: write it as '{}: {{{}}}')",
                    self.path.display(),
                    first.referenced.line(),
                    first.referenced.column(),
                    self.index,
                    self.spec.name.value,
                    entry.flat_keys.join("', '"),
                    S::KEY,
                    moved.join(", ")
                ));
                Ok(entry.flat)
            }
        }
    }

    /// The dotted path of the block's key `name`, as the entry wrote it:
    /// `backends[0].ort.sessions`, or `backends[0].sessions` in the flat form (a key
    /// the entry lacks: the block's path, where it belongs).
    pub fn field(&self, name: &str) -> String {
        match *self.form.borrow() {
            Some((Form::Flat, _)) => format!("backends[{}].{name}", self.index),
            Some((Form::Nested, key)) => format!("backends[{}].{key}.{name}", self.index),
            None => format!("backends[{}].{}.{name}", self.index, self.block_key.get()),
        }
    }

    /// A parser error inside the block, with the field's whole path: the block's key
    /// itself, one of its keys (nested or flat, as the entry wrote it), or an unknown
    /// key inside the block.
    fn placed(&self, mut e: ConfigError, key: &str, keys: &[String], example: &str) -> ConfigError {
        let nested = self.spec.extra.iter().any(|(k, _)| k.value == key);
        let flat = self.spec.extra.iter().any(|(k, _)| k.value == e.field);
        let i = self.index;
        e.field = if e.field == key {
            // The block is not a mapping (a wrong value deeper in, placed at the block by
            // the parser, keeps its own message and fix).
            if e.message.contains("a mapping of the backend's settings") {
                e.fix = Some(format!("write the block as a mapping, e.g. '{key}: {{{example}}}'"));
            }
            format!("backends[{i}].{key}")
        } else if keys.contains(&e.field) && flat {
            format!("backends[{i}].{}", e.field)
        } else if nested && !e.field.is_empty() && (keys.contains(&e.field) || e.message.starts_with("unknown key")) {
            format!("backends[{i}].{key}.{}", e.field)
        } else {
            return e;
        };
        e
    }

    /// An error at a value of the block.
    pub fn at<T>(&self, value: &Spanned<T>, name: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, value, self.field(name), message)
    }

    /// An error at the entry's `name` (a setting that is missing, or about the whole entry).
    pub fn entry_error(&self, name: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, &self.spec.name, self.field(name), message)
    }

    /// `value`, checked to be in `1..=max`; an error into `errors` otherwise.
    pub fn positive(
        &self,
        errors: &mut Vec<ConfigError>,
        name: &str,
        value: Option<&Spanned<usize>>,
        max: usize,
    ) -> Option<usize> {
        let v = value?;
        if v.value == 0 || v.value > max {
            let e = self.at(v, name, format!("{name} {} is impossible", v.value));
            errors.push(e.fix(format!("use 1..={max}, or leave it out for the default")));
        }
        Some(v.value)
    }

    /// An error when the entry asks for `device: cuda` of a backend that runs on the
    /// CPU only, with `fix`.
    pub fn cpu_only(&self, fix: &str) -> Option<ConfigError> {
        let d = self.spec.device.as_ref().filter(|d| d.value == "cuda")?;
        Some(self.shared_at(d, "device", format!("{} runs on the CPU in embench", self.kind)).fix(fix))
    }

    /// An error at one of the entry's shared keys (`threads`, `device`, ...), e.g. one
    /// this backend cannot honour.
    pub fn shared_at<T>(&self, value: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, value, format!("backends[{}].{key}", self.index), message)
    }

    /// A warning for the run's output (`validate` and `run` print it).
    pub fn warn(&self, message: String) {
        self.warnings.borrow_mut().push(message);
    }

    /// The warnings given while reading.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.warnings.borrow_mut())
    }
}

/// What one entry gave of block `S`.
struct EntryBlock<S> {
    nested: Option<S>,
    flat: S,
    flat_keys: Vec<String>,
}

/// Reads `backends[index]`'s block `S` from the whole document, skipping everything else.
struct DocSeed<'k, S> {
    index: usize,
    keys: &'k [String],
    _s: PhantomData<S>,
}

impl<'de, S: SettingsBlock> DeserializeSeed<'de> for DocSeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: SettingsBlock> Visitor<'de> for DocSeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a benchmark config")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "backends" {
                out = map.next_value_seed(ListSeed::<S> { index: self.index, keys: self.keys, _s: PhantomData })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// The `backends` list: entry `index` read, the others skipped.
struct ListSeed<'k, S> {
    index: usize,
    keys: &'k [String],
    _s: PhantomData<S>,
}

impl<'de, S: SettingsBlock> DeserializeSeed<'de> for ListSeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: SettingsBlock> Visitor<'de> for ListSeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of backends")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        let mut i = 0;
        loop {
            if i == self.index {
                let seed = EntrySeed::<S> { keys: self.keys, _s: PhantomData };
                match seq.next_element_seed(seed)? {
                    Some(entry) => out = entry,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(out)
    }
}

/// One entry: a bare name (no block), or a mapping whose block key is read nested and
/// whose keys of `S` are read flat.
struct EntrySeed<'k, S> {
    keys: &'k [String],
    _s: PhantomData<S>,
}

impl<'de, S: SettingsBlock> DeserializeSeed<'de> for EntrySeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: SettingsBlock> Visitor<'de> for EntrySeed<'_, S> {
    type Value = Option<EntryBlock<S>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a backend name or a mapping")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut nested = None;
        let mut flat_keys = Vec::new();
        let filter =
            BlockKeys::<A, S> { inner: &mut map, keys: self.keys, nested: &mut nested, flat_keys: &mut flat_keys };
        let flat = S::deserialize(de::value::MapAccessDeserializer::new(filter))?;
        Ok(Some(EntryBlock { nested, flat, flat_keys }))
    }
}

/// The entry's mapping as `S` sees it: only `S`'s own keys (the flat form); the block
/// key's value is read into `nested` on the way, every other key skipped.
struct BlockKeys<'m, A, S> {
    inner: &'m mut A,
    keys: &'m [String],
    nested: &'m mut Option<S>,
    flat_keys: &'m mut Vec<String>,
}

impl<'de, A: MapAccess<'de>, S: SettingsBlock> MapAccess<'de> for BlockKeys<'_, A, S> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.inner.next_key::<String>()? {
            if key == S::KEY {
                *self.nested = Some(self.inner.next_value_seed(BlockSeed::<S>(PhantomData))?);
            } else if self.keys.contains(&key) {
                self.flat_keys.push(key.clone());
                return seed.deserialize(key.into_deserializer()).map(Some);
            } else {
                self.inner.next_value::<IgnoredAny>()?;
            }
        }
        Ok(None)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// A block's value: a mapping read as `S` (its values keep their places), nothing
/// (`ort:` or `ort: null`) as the defaults, anything else an error that says what
/// goes there.
struct BlockSeed<S>(PhantomData<S>);

impl<'de, S: SettingsBlock> DeserializeSeed<'de> for BlockSeed<S> {
    type Value = S;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<S, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: SettingsBlock> Visitor<'de> for BlockSeed<S> {
    type Value = S;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a mapping of the backend's settings, e.g. '{}: {{{}}}'", S::KEY, S::example())
    }
    fn visit_unit<E: de::Error>(self) -> Result<S, E> {
        Ok(S::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<S, E> {
        Ok(S::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S, A::Error> {
        S::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}
