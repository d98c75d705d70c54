//! Every parse-level error of a config file at once (unknown keys, wrong types,
//! missing keys), as rustc reports every error of a crate: serde stops at the
//! first, so the file is also checked against the JSON Schema its type generates
//! (`schema/*.schema.json`), and each schema error is put back at its line and
//! column through a tree of the YAML's nodes with their places.

use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::parse::closest;

/// A YAML node with its place, for finding where a JSON pointer points.
enum Node {
    /// A mapping: each key with its place, and its value.
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
    /// A sequence.
    Seq(Vec<Spanned<Node>>),
    /// A scalar.
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Leaf)
            }
        }
        d.deserialize_any(V)
    }
}

/// The (line, column) of the node at `pointer` (`/test_scenarios/0/concurrency`),
/// or of its key `key` when given.
fn place(root: &Spanned<Node>, pointer: &str, key: Option<&str>) -> Option<(u64, u64)> {
    let mut node = root;
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        node = match &node.value {
            Node::Map(entries) => &entries.iter().find(|(k, _)| k.value == segment)?.1,
            Node::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
            Node::Leaf => return None,
        };
    }
    let at = match (key, &node.value) {
        (Some(k), Node::Map(entries)) => {
            entries.iter().find(|(name, _)| name.value == k).map(|(name, _)| &name.referenced)?
        }
        _ => &node.referenced,
    };
    (at.line() > 0).then(|| (at.line(), at.column()))
}

/// The schema node at `path`, a keyword path that may pass through `$ref`s
/// (`/properties/input_config/$ref`): each `$ref` is followed to its definition.
fn resolve<'a>(schema: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let mut node = schema;
    for segment in path.split('/').skip(1) {
        node = if segment == "$ref" {
            schema.pointer(node.get("$ref")?.as_str()?.trim_start_matches('#'))?
        } else {
            match node {
                serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => node.get(segment)?,
            }
        };
    }
    Some(node)
}

/// Whether `e` is an unknown key in the object at `pointer` that is a near miss of
/// `key`: a typo, or the key cut short or run on (`max_batch` for `max_batch_size`).
fn misspelt(e: &jsonschema::ValidationError, pointer: &str, key: &str) -> bool {
    match &e.kind {
        jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
            e.instance_path.as_str() == pointer
                && unexpected.iter().any(|u| {
                    closest(u, &[key.to_string()]).is_some() || key.starts_with(u.as_str()) || u.starts_with(key)
                })
        }
        _ => false,
    }
}

/// `test_scenarios[0].concurrency` for `/test_scenarios/0/concurrency`.
fn field(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Every error the JSON Schema `schema` finds in `text` (a YAML file at `path`), at
/// its place, with our wording; empty when the file is not valid YAML or the schema
/// passes it (then the parser's own error is the only one).
pub(super) fn schema_errors(text: &str, path: &Path, schema: &serde_json::Value) -> Vec<ConfigError> {
    let (Ok(value), Ok(tree)) =
        (serde_saphyr::from_str::<serde_json::Value>(text), serde_saphyr::from_str::<Spanned<Node>>(text))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect(schema, &value, "", &tree, path, &mut out);
    out
}

/// The errors of `value` (at `base` in the file) against `schema`, into `out`.
fn collect(
    schema: &serde_json::Value,
    value: &serde_json::Value,
    base: &str,
    tree: &Spanned<Node>,
    path: &Path,
    out: &mut Vec<ConfigError>,
) {
    let Ok(validator) = jsonschema::validator_for(schema) else { return };
    let errors: Vec<_> = validator.iter_errors(value).collect();
    for e in &errors {
        let local = e.instance_path.as_str().to_string();
        let pointer = format!("{base}{local}");
        let at = |key: Option<&str>| place(tree, &pointer, key);
        let error = |loc: Option<(u64, u64)>, field: String, message: String, fix: Option<String>| ConfigError {
            file: path.to_path_buf(),
            line: loc.map(|l| l.0),
            column: loc.map(|l| l.1),
            field,
            message,
            fix,
        };
        match &e.kind {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                // The keys the schema allows here: the `properties` beside the failed keyword.
                let schema_path = e.schema_path.as_str();
                let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
                let allowed: Vec<String> = resolve(schema, parent)
                    .and_then(|s| s.get("properties"))
                    .and_then(|p| p.as_object())
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                for key in unexpected {
                    let near = closest(key, &allowed);
                    let hint = near.map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
                    let name = if pointer.is_empty() { key.clone() } else { format!("{}.{key}", field(&pointer)) };
                    let fix = (!allowed.is_empty()).then(|| format!("valid keys here: {}", allowed.join(", ")));
                    out.push(error(at(Some(key)), name, format!("unknown key '{key}'{hint}"), fix));
                }
            }
            jsonschema::error::ValidationErrorKind::Required { property } => {
                let key = property.as_str().unwrap_or_default().to_string();
                // A misspelt key is one error, not also a missing one.
                if errors.iter().any(|other| misspelt(other, &local, &key)) {
                    continue;
                }
                let name = if pointer.is_empty() { key.clone() } else { format!("{}.{key}", field(&pointer)) };
                out.push(error(
                    at(None),
                    name,
                    format!("required key '{key}' is missing"),
                    Some(format!("add '{key}:'")),
                ));
            }
            // An optional block (`anyOf: [the block, null]`) that is there, or the one branch
            // of a choice of the value's own type (a backend's mapping, not its bare name):
            // its own errors, not "no branch matched".
            jsonschema::error::ValidationErrorKind::AnyOf { .. } if !e.instance.is_null() => {
                match branch_for(schema, e.schema_path.as_str(), &e.instance) {
                    Some(branch) => collect(&branch, &e.instance, &pointer, tree, path, out),
                    None => out.push(error(at(None), field(&pointer), e.to_string(), None)),
                }
            }
            _ => out.push(error(at(None), field(&pointer), e.to_string(), None)),
        }
    }
}

/// The branch of the `anyOf` at `schema_path` that `instance` was meant for, as a
/// schema of its own carrying the root's definitions: the one other than `null` (an
/// optional block), or the one branch of the instance's JSON type (a mapping where a
/// name or a mapping may go); None when that is not one branch.
fn branch_for(
    schema: &serde_json::Value,
    schema_path: &str,
    instance: &serde_json::Value,
) -> Option<serde_json::Value> {
    let branches = resolve(schema, schema_path)?.as_array()?;
    // A branch's type, through its `$ref`.
    let type_of = |b: &serde_json::Value| -> Option<String> {
        let b = match b.get("$ref").and_then(|r| r.as_str()) {
            Some(r) => schema.pointer(r.trim_start_matches('#'))?,
            None => b,
        };
        b.get("type").and_then(|t| t.as_str()).map(str::to_string)
    };
    let others: Vec<&serde_json::Value> = branches.iter().filter(|b| type_of(b).as_deref() != Some("null")).collect();
    let others = if others.len() == 1 && others.len() < branches.len() {
        others
    } else {
        let kind = match instance {
            serde_json::Value::Object(_) => "object",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::String(_) => "string",
            _ => return None,
        };
        let same: Vec<&serde_json::Value> =
            others.into_iter().filter(|b| type_of(b).as_deref() == Some(kind)).collect();
        if same.len() != 1 {
            return None;
        }
        same
    };
    let mut branch = others[0].clone();
    if let (Some(obj), Some(defs)) = (branch.as_object_mut(), schema.get("$defs")) {
        obj.insert("$defs".into(), defs.clone());
    }
    Some(branch)
}
