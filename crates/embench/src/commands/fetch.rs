//! `embench run --fetch`: each active model whose folder does not exist is fetched
//! from the Hugging Face Hub and converted for every backend by the project's
//! conversion script, before the run is planned.

use std::path::{Path, PathBuf};
use std::process::Command;

use embench_core::config::LoadedConfig;

/// The conversion script (`scripts/convert_models.sh`): beside this executable's
/// checkout, the current directory's, or the source tree this binary was built from.
fn convert_script() -> Option<PathBuf> {
    let rel = Path::new("scripts/convert_models.sh");
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let roots = exe.iter().chain(cwd.iter()).flat_map(|p| p.ancestors().map(Path::to_path_buf));
    roots
        .chain(std::iter::once(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")))
        .map(|root| root.join(rel))
        .find(|p| p.is_file())
}

/// Fetches and converts every model of `config` (of `only`, when it names any: the
/// run's `--model` filter) that has no folder and that a backend of the config
/// needs, with the script's own progress on the terminal.
/// Returns whether any script ran (so the config is validated again); one that fails
/// is said, and that model's cells stay SKIPPED with their reason.
pub fn fetch_missing(config: &LoadedConfig, only: &[String]) -> bool {
    let needs_files = config.backends.iter().any(|b| b.kind.needs_model_files());
    let chosen = |key: &String| only.is_empty() || only.contains(key);
    let wanted: Vec<&str> = config
        .models
        .iter()
        .filter(|m| m.folder.is_none() && needs_files && chosen(&m.key))
        .map(|m| m.key.as_str())
        .collect();
    if wanted.is_empty() {
        eprintln!("embench: --fetch: every active model has its folder; nothing to fetch");
        return false;
    }
    let Some(script) = convert_script() else {
        eprintln!(
            "embench: --fetch: scripts/convert_models.sh not found beside this executable or the current directory; {} stay SKIPPED (fix: run embench from its checkout)",
            wanted.join(", ")
        );
        return false;
    };
    for key in wanted {
        eprintln!(
            "embench: --fetch: fetching and converting '{key}' ({} --models-file {} {key})",
            script.display(),
            config.models_path.display()
        );
        let status = Command::new(&script).arg("--models-file").arg(&config.models_path).arg(key).status();
        match status {
            Ok(s) if s.success() => eprintln!("embench: --fetch: '{key}' is ready"),
            Ok(s) => eprintln!(
                "embench: --fetch: '{key}' FAILED ({s}; the script's message is above); its cells stay SKIPPED"
            ),
            Err(e) => eprintln!("embench: --fetch: could not start {}: {e}; '{key}' stays SKIPPED", script.display()),
        }
    }
    true
}
