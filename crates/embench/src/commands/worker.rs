//! `embench worker`: the child process `embench run` starts per model × backend.
//! It runs the cells it is given, exactly as an in-process run would, and sends
//! progress and records to the parent as JSON lines (see `embench_runner::run::isolate`).

use std::fs::File;
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use embench_runner::run::isolate::WorkerPipe;
use embench_runner::{execute_cells, RunPlan};

use crate::cli::WorkerArgs;
use crate::factory::Factory;

/// `embench worker --config F --cells I,J --plan-cells N`.
pub async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let pipe = protocol_pipe()?;
    let auto = serde_json::from_str(&args.auto).context("--auto: the parent's resolved auto settings")?;
    let config = crate::commands::validate::load_in_worker(&args.config, &auto)?;
    let mut plan = RunPlan::new(config);
    if plan.cells.len() != args.plan_cells {
        bail!(
            "{} now has {} cells, the run started with {} (fix: restore the config the run started with)",
            args.config.display(),
            plan.cells.len(),
            args.plan_cells
        );
    }
    if let Some(bad) = args.cells.iter().find(|&&c| c >= plan.cells.len()) {
        bail!("cell {bad} is not in the plan of {} cells", plan.cells.len());
    }
    let host = embench_runner::machine::host::probe();
    plan.peaks = embench_runner::machine::peak::Peaks::find(&host).ok();
    // SIGINT from the parent: finish the current cell, then stop.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    let cells = args.cells;
    tokio::task::spawn_blocking(move || {
        let mut sink = pipe.clone();
        execute_cells(&plan, &cells, &Factory, &mut sink, &pipe, &stop)
    })
    .await?
    .context("running the cells")?;
    Ok(ExitCode::SUCCESS)
}

/// The protocol gets its own copy of stdout; stdout itself then points at stderr,
/// so whatever a native library prints cannot corrupt the protocol.
fn protocol_pipe() -> anyhow::Result<WorkerPipe> {
    // SAFETY: descriptor calls on fds 1 and 2 before anything else writes to stdout;
    // the duplicate is close-on-exec, so helper processes do not inherit it.
    let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        bail!("duplicating stdout: {}", std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::dup2(2, 1) } < 0 {
        bail!("pointing stdout at stderr: {}", std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    Ok(WorkerPipe::new(Box::new(file)))
}
