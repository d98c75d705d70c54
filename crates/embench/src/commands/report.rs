//! `embench report`: report.md and charts, or one CSV, from run directories alone.

use std::process::ExitCode;

use anyhow::Context;
use embench_report::{charts, csv_export, load_runs, markdown};

use crate::cli::{ReportArgs, ReportFormat};

/// The CSV, or the JSON array of every cell's record with its `host`.
fn one_file(runs: &embench_report::Runs, format: ReportFormat) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Csv => csv_export::cells_csv(runs)?,
        _ => {
            let cells: Vec<serde_json::Value> = runs
                .entries()
                .map(|e| {
                    let mut v = serde_json::to_value(e.record).expect("records serialize");
                    v["host"] = e.host.into();
                    v
                })
                .collect();
            serde_json::to_string_pretty(&cells)? + "\n"
        }
    })
}

/// `embench report RUN... [--out DIR] [--format md|csv|json]`.
pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if args.out.as_deref() == Some(std::path::Path::new("-")) {
        anyhow::ensure!(
            args.format != ReportFormat::Md,
            "--out - writes one file to stdout; report.md comes with charts (fix: --format csv or json, or --out DIR)"
        );
        let runs = load_runs(&args.runs)?;
        print!("{}", one_file(&runs, args.format)?);
        return Ok(ExitCode::SUCCESS);
    }
    let out = match (&args.out, args.runs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.clone(),
        (None, _) => anyhow::bail!(
            "{} runs make one merged report, which belongs in none of them (fix: --out DIR, e.g. --out results/merged)",
            args.runs.len()
        ),
    };
    anyhow::ensure!(
        args.runs.len() < 2 || !out.join("manifest.json").is_file(),
        "{} is a run directory; a merged report belongs in none of the runs (fix: --out a new directory, e.g. results/merged)",
        out.display()
    );
    let runs = load_runs(&args.runs)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    match args.format {
        ReportFormat::Csv | ReportFormat::Json => {
            let path = out.join(if args.format == ReportFormat::Csv { "cells.csv" } else { "cells.json" });
            std::fs::write(&path, one_file(&runs, args.format)?)
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
