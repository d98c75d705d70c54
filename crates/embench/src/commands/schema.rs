//! `embench schema`: the config files' JSON Schemas, generated from the config types
//! and the settings block of every backend crate in this binary.

use std::process::ExitCode;

use anyhow::Context;
use embench_core::BackendCatalog;

use crate::cli::SchemaArgs;
use crate::factory::Catalog;

/// Prints the benchmark config's schema, or writes both schemas into `--write DIR`.
///
/// Errors: the directory cannot be written.
pub fn schema(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let blocks = Catalog { check_runtimes: false }.blocks();
    let schemas = embench_core::config::json_schemas(&blocks);
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("a schema is JSON") + "\n";
    match &args.write {
        None => print!("{}", pretty(&schemas[0].1)),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, schema) in &schemas {
                let path = dir.join(name);
                std::fs::write(&path, pretty(schema)).with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
