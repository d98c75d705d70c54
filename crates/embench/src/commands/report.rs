//! `embench report`: report.md and charts, or one CSV, from run directories alone.

use std::process::ExitCode;

use anyhow::Context;
use embench_report::{charts, csv_export, load_runs, markdown};

use crate::cli::{ReportArgs, ReportFormat};

/// `embench report RUN... [--out DIR] [--format md|csv]`.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let out = match (&args.out, args.runs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.clone(),
        (None, _) => anyhow::bail!(
            "{} runs make one merged report, which belongs in none of them (fix: --out DIR, e.g. --out results/merged)",
            args.runs.len()
        ),
    };
    let runs = load_runs(&args.runs)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    match args.format {
        ReportFormat::Csv => {
            let path = out.join("cells.csv");
            std::fs::write(&path, csv_export::cells_csv(&runs)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
        }
        ReportFormat::Md => {
            let files = charts::render_all(&runs, &out.join("charts"))?;
            let path = out.join("report.md");
            std::fs::write(&path, markdown::report(&runs, &files))
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
            for f in &files {
                println!("{}", out.join("charts").join(format!("{}.{{png,svg}}", f.stem)).display());
            }
        }
    }
    let invalid = runs.entries().filter(|e| !e.record.valid).count();
    if invalid > 0 {
        eprintln!("embench: the report includes {invalid} INVALID cell(s), marked as such");
    }
    Ok(ExitCode::SUCCESS)
}
