//! `embench compare`: what changed between two runs, cell by cell.

use std::process::ExitCode;

use anyhow::{ensure, Context};
use embench_report::compare::compare as compare_runs;
use embench_report::load_runs;

use crate::cli::CompareArgs;

/// `embench compare BASELINE CANDIDATE [--threshold PCT] [--fail-on-regression PCT]`.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    ensure!(args.threshold >= 0.0, "--threshold must be >= 0 (got {})", args.threshold);
    let runs = load_runs(&[args.baseline.clone(), args.candidate.clone()])?;
    let (base, cand) = (&runs.runs[0], &runs.runs[1]);
    let cmp = compare_runs(base, cand, args.threshold);
    let md = cmp.markdown(&base.dir.display().to_string(), &cand.dir.display().to_string());
    print!("{md}");
    let path = args.out.clone().unwrap_or_else(|| args.candidate.join("compare.md"));
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("embench: wrote {}", path.display());
    if cmp.matched.is_empty() {
        eprintln!("embench: no cells matched between the two runs");
    }
    if let Some(pct) = args.fail_on_regression {
        let regressed: Vec<_> = cmp.matched.iter().filter(|d| d.regressed_beyond(pct)).collect();
        if !regressed.is_empty() {
            for d in &regressed {
                eprintln!("embench: REGRESSION beyond {pct}%: {}", d.key);
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
