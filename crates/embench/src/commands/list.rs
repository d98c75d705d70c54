//! `embench list backends|models`: what this binary and machine can run, and which
//! models a models file names, with what is missing and why.

use std::process::ExitCode;

use embench_core::config::{parse_yaml_file, ModelsFile};
use embench_core::model_files::ModelFolder;
use embench_core::BackendKind;

use crate::cli::{ListArgs, ListWhat};
use crate::factory::Factory;

/// Prints the list; exit status 0.
pub fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        ListWhat::Backends => {
            for kind in BackendKind::ALL {
                let runs = match crate::factory::backend(kind).ok().map(|b| b.architectures()) {
                    Some(Some(list)) => {
                        format!(" (runs {})", list.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "))
                    }
                    Some(None) if kind == BackendKind::Http => " (any model: the server it calls runs it)".to_string(),
                    Some(None) => " (runs any model entry: no model is loaded)".to_string(),
                    None => String::new(),
                };
                let state = match Factory::usable(kind) {
                    None => format!("usable{runs}"),
                    Some(why) if Factory::unavailable(kind).is_some() => format!("not compiled in: {why}"),
                    Some(why) => format!("compiled in, not usable here: {why}"),
                };
                println!("{:<16} {state}", kind.name());
            }
        }
        ListWhat::Models => {
            let file: ModelsFile =
                parse_yaml_file(&args.models, "the models file").map_err(|e| anyhow::anyhow!("{e}"))?;
            for (key, m) in &file.models {
                let root = m.folder_path(&args.models, key);
                let fetch = match m.hub_id() {
                    Some(id) => {
                        format!("scripts/convert_models.sh --models-file {} {key} fetches {id}", args.models.display())
                    }
                    None => format!("put its Hugging Face folder at {}/pytorch", root.display()),
                };
                let state = match root.is_dir() {
                    false => format!("{} does not exist (fix: {fetch})", root.display()),
                    true => {
                        let folder = ModelFolder::new(root.clone());
                        let present: Vec<&str> = [
                            ("pytorch", folder.config_json()),
                            ("onnx", folder.onnx_model()),
                            ("openvino", folder.openvino_ir(false)),
                            ("torchscript", folder.torchscript()),
                            ("reference", folder.reference()),
                        ]
                        .into_iter()
                        .filter(|(_, f)| f.is_file())
                        .map(|(name, _)| name)
                        .collect();
                        if present.is_empty() {
                            format!("{} is empty (fix: scripts/convert_models.sh {key})", folder.root.display())
                        } else {
                            format!("{}: {}", folder.root.display(), present.join(", "))
                        }
                    }
                };
                println!("{key:<28} {state}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
