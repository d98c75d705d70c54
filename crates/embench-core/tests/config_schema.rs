//! The config files' JSON Schemas: generated from the types, shipped in `schema/`,
//! named on the first line of every shipped YAML file, and every shipped file
//! valid against its schema. `EMBENCH_UPDATE_SCHEMA=1 cargo test -p embench-core
//! --test config_schema` writes them after a change to the config types.

use std::path::{Path, PathBuf};

mod common;

use embench_core::config::json_schemas as schemas_of;
use embench_core::BackendCatalog;

/// The schemas with every backend crate's settings block.
fn json_schemas() -> [(&'static str, serde_json::Value); 2] {
    schemas_of(&common::CRATES.blocks())
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_shipped_schemas_are_the_generated_ones() {
    for (name, schema) in json_schemas() {
        let path = repo().join("schema").join(name);
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if std::env::var_os("EMBENCH_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            shipped == generated,
            "{} is not the schema the config types generate (fix: EMBENCH_UPDATE_SCHEMA=1 cargo test -p embench-core --test config_schema)",
            path.display()
        );
    }
}

#[test]
fn every_shipped_config_names_its_schema_and_is_valid_against_it() {
    let schemas: Vec<(&str, serde_json::Value)> = json_schemas().into_iter().collect();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("configs")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = if path.file_name().unwrap() == "models.yaml" {
            "models.schema.json"
        } else {
            "benchmark-config.schema.json"
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(first, format!("# yaml-language-server: $schema=../schema/{name}"), "{}", path.display());
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let schema = &schemas.iter().find(|(n, _)| *n == name).unwrap().1;
        let validator = jsonschema::validator_for(schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        // And the schema catches what the parser refuses: an unknown key.
        let mut typo = value.clone();
        typo["concurency"] = 4.into();
        assert!(!validator.is_valid(&typo), "{}: an unknown key passes the schema", path.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} configs checked");
}

/// Every `properties` key anywhere in `schema`.
fn keys(schema: &serde_json::Value, out: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            if let Some(props) = map.get("properties").and_then(|p| p.as_object()) {
                out.extend(props.keys().cloned());
            }
            map.values().for_each(|v| keys(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn the_readme_lists_every_config_key() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for (name, schema) in json_schemas() {
        let mut all = Vec::new();
        keys(&schema, &mut all);
        for key in all {
            if !readme.contains(&format!("`{key}` |")) && !readme.contains(&format!(".{key}` |")) {
                missing.push(format!("{key} ({name})"));
            }
        }
    }
    assert!(missing.is_empty(), "README.md's key table lacks {missing:?} (fix: python3 scripts/python/config_keys.py)");
}
