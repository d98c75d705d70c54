//! `embench compare`: what changed between two runs, cell by cell.

use std::process::ExitCode;

use anyhow::{ensure, Context};
use embench_report::compare::compare as compare_runs;
use embench_report::load_runs;

use crate::cli::{CompareArgs, CompareFormat};

/// Exit status when fewer cells matched than required: a gate that compared nothing.
pub const NO_MATCH: u8 = 3;

/// `embench compare BASELINE CANDIDATE [--threshold PCT] [--fail-on-regression PCT] [--min-matched N]`.
pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    ensure!(args.threshold >= 0.0, "--threshold must be >= 0 (got {})", args.threshold);
    let runs = load_runs(&[args.baseline.clone(), args.candidate.clone()])?;
    let (base, cand) = (&runs.runs[0], &runs.runs[1]);
    let cmp = compare_runs(base, cand, args.threshold);
    let (body, default) = match args.format {
        CompareFormat::Md => {
            (cmp.markdown(&base.dir.display().to_string(), &cand.dir.display().to_string()), Some("compare.md"))
        }
        CompareFormat::Json => (serde_json::to_string_pretty(&cmp)? + "\n", None),
    };
    print!("{body}");
    let md = body;
    let path = args.out.clone().or_else(|| default.map(|d| args.candidate.join(d))).unwrap_or_else(|| "-".into());
    if path.as_os_str() != "-" {
        ensure!(
            !path.is_dir(),
            "--out {} is a directory; compare writes one file (fix: --out {}, or --out - for stdout only)",
            path.display(),
            path.join("compare.md").display()
        );
        std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("embench: wrote {}", path.display());
    }
    let needed = args.min_matched.or(args.fail_on_regression.map(|_| 1));
    if cmp.matched.is_empty() {
        eprintln!("embench: no cells matched between the two runs");
    }
    if let Some(needed) = needed.filter(|&n| cmp.matched.len() < n) {
        eprintln!(
            "embench: {} cell(s) matched, fewer than the {needed} required (--min-matched): a regression gate over them proves nothing (fix: compare runs of the same config; cells match by model, backend, scenario, concurrency, batch size and sequence length, and {} + {} cells were left unmatched)",
            cmp.matched.len(),
            cmp.only_baseline.len(),
            cmp.only_candidate.len()
        );
        return Ok(ExitCode::from(NO_MATCH));
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
