//! Process isolation: each model × backend group of cells runs in a worker
//! process (the same binary in worker mode), so a crash, abort or hang in a native
//! library takes down only that process. The parent records the lost cell with
//! the exit status or signal and the tail of the worker's stderr, starts a fresh
//! worker for the group's remaining cells, and goes on. A cell that runs past the
//! timeout has its worker killed and is recorded as timed out. Peak RSS is then
//! each worker's own, not inflated by frameworks loaded before it.
//!
//! The worker speaks JSON lines ([`WorkerEvent`]) on its stdout; [`WorkerPipe`]
//! is its side, [`execute_isolated`] the parent's.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use embench_schema::WorkerFailureKind;
use serde::{Deserialize, Serialize};

use crate::cell::CellProgress;
use crate::run::execute::{failure_record, planned_skip_record, write, RunError, RunObserver, RunOutcome};
use crate::run::plan::RunPlan;
use crate::run::ticker::CounterTicker;
use embench_schema::record::{CellRecord, WorkerFailure};
use embench_schema::RecordSink;

/// Lines of a worker's stderr kept for the record of a cell it lost.
const STDERR_TAIL: usize = 30;

/// What a worker process tells its parent, one JSON object per line.
/// Externally tagged (`{"record": {...}}`): an internally tagged enum would buffer
/// the record and then refuse its integer-keyed maps.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEvent {
    /// Plan cell `cell` started.
    Started {
        /// Plan index.
        cell: usize,
        /// Its label.
        label: String,
        /// Requests it will measure.
        requests: u64,
    },
    /// Requests handed out so far, and the phase when it changed.
    Progress {
        /// Requests handed out.
        done: u64,
        /// The phase entered, if it changed.
        #[serde(default)]
        phase: Option<String>,
    },
    /// A finished record (a cell may write several).
    Record {
        /// The record.
        record: Box<CellRecord>,
    },
    /// Every record of plan cell `cell` was sent.
    CellDone {
        /// Plan index.
        cell: usize,
    },
}

/// The worker's side: sends records and progress to the parent.
#[derive(Clone)]
pub struct WorkerPipe {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl WorkerPipe {
    /// Events go to `out` (the worker's protocol descriptor).
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out: Arc::new(Mutex::new(out)) }
    }

    fn send(&self, event: &WorkerEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(&line)?;
        out.flush()
    }
}

impl RecordSink for WorkerPipe {
    fn append(&mut self, record: &CellRecord) -> std::io::Result<()> {
        self.send(&WorkerEvent::Record { record: Box::new(record.clone()) })
    }

    fn cell_done(&mut self, cell: usize) -> std::io::Result<()> {
        self.send(&WorkerEvent::CellDone { cell })
    }

    fn describe(&self) -> String {
        "the pipe to the parent process".into()
    }
}

struct PipeProgress {
    pipe: WorkerPipe,
    ticker: CounterTicker,
}

impl CellProgress for PipeProgress {
    fn phase(&self, phase: &str) {
        let done = self.ticker.counter().load(Ordering::Relaxed);
        let _ = self.pipe.send(&WorkerEvent::Progress { done, phase: Some(phase.into()) });
    }

    fn counter(&self) -> &AtomicU64 {
        self.ticker.counter()
    }
}

impl RunObserver for WorkerPipe {
    fn cell_started(&self, index: usize, _total: usize, label: &str, requests: u64) -> Box<dyn CellProgress + '_> {
        let _ = self.send(&WorkerEvent::Started { cell: index, label: label.into(), requests });
        let pipe = self.clone();
        let ticker = CounterTicker::start(Duration::from_millis(250), move |done| {
            let _ = pipe.send(&WorkerEvent::Progress { done, phase: None });
        });
        Box::new(PipeProgress { pipe: self.clone(), ticker })
    }

    fn cell_finished(&self, _record: &CellRecord) {}
}

/// Set by the run's Ctrl-C handler.
#[derive(Debug, Default)]
pub struct StopFlags {
    /// First Ctrl-C: finish the current cell, then stop.
    pub stop: AtomicBool,
    /// Second Ctrl-C: kill the worker now; the current cell is abandoned.
    pub abandon: AtomicBool,
}

/// How the parent starts workers.
pub struct Isolation<'a> {
    /// The worker command for the given plan cells (the parent adds the pipes).
    pub command: &'a dyn Fn(&[usize]) -> Command,
    /// How long a cell may take before its worker is killed.
    pub cell_timeout: Duration,
}

/// How one worker process ended.
enum End {
    /// It exited on its own after the cells it was given (or after a stop).
    Clean,
    /// It died or was killed; `cell` is the one it was running, if any.
    Lost { cell: Option<usize>, failure: WorkerFailure },
    /// Killed on a second Ctrl-C, or stopped before its cell began; `cell` is not recorded.
    Abandoned { cell: Option<usize> },
}

enum Msg {
    Event(WorkerEvent),
    Noise(String),
    Eof,
}

/// Runs the plan cells `selection` in worker processes, one model × backend group
/// at a time, writing each record to `sink` the moment its cell is complete.
pub fn execute_isolated(
    plan: &RunPlan,
    selection: &[usize],
    iso: &Isolation,
    sink: &mut dyn RecordSink,
    observer: &dyn RunObserver,
    flags: &StopFlags,
) -> Result<RunOutcome, RunError> {
    let mut records = Vec::new();
    let mut finished = 0usize;
    let mut groups: Vec<Vec<usize>> = Vec::new();
    // Cells the config skips are recorded here, without a worker; the others run by group.
    for &i in selection {
        if let Some(reason) = plan.skip_reason(&plan.cells[i]) {
            write(sink, observer, &mut records, i, vec![planned_skip_record(plan, i, reason)])?;
            finished += 1;
            continue;
        }
        let key = |c: usize| (plan.cells[c].model, plan.cells[c].backend);
        match groups.last_mut() {
            Some(g) if key(g[0]) == key(i) => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    'groups: for group in groups {
        let mut remaining = group;
        while !remaining.is_empty() {
            if flags.stop.load(Ordering::Relaxed) {
                break 'groups;
            }
            let before = remaining.len();
            let end = run_worker(plan, &mut remaining, iso, sink, observer, flags, &mut records)?;
            finished += before - remaining.len();
            let lost = |cells: &[usize], failure: &WorkerFailure, why: &str| -> Vec<CellRecord> {
                cells.iter().map(|&c| failure_record(plan, c, failure.clone(), why.to_string())).collect()
            };
            let failed = match end {
                End::Clean if remaining.is_empty() || flags.stop.load(Ordering::Relaxed) => continue,
                End::Clean => {
                    let f = WorkerFailure {
                        kind: WorkerFailureKind::Crashed,
                        status: "exit code 0".into(),
                        stderr_tail: Vec::new(),
                    };
                    lost(&remaining, &f, "the worker process exited without running this cell")
                }
                End::Abandoned { cell } => {
                    if let Some(c) = cell {
                        eprintln!(
                            "embench: abandoned cell {} (not recorded; --resume runs it again)",
                            crate::run::execute::cell_label(plan, c)
                        );
                    }
                    break 'groups;
                }
                End::Lost { cell: Some(c), failure } => {
                    let why = describe_loss(&failure);
                    lost(&[c], &failure, &why)
                }
                // It died between cells after finishing some (a crash while dropping a
                // model, say): what it finished is kept, and a fresh worker goes on.
                End::Lost { cell: None, failure } if remaining.len() < before => {
                    eprintln!(
                        "embench: a worker process ended with {} between cells; starting a fresh one for the rest",
                        failure.status
                    );
                    continue;
                }
                // It died before starting any cell: every cell it was given would die the same way.
                End::Lost { cell: None, failure } => {
                    let why = describe_loss(&failure);
                    lost(&remaining, &failure, &why)
                }
            };
            for record in failed {
                let c = record.cell.expect("failure records carry their cell");
                sink.append(&record).map_err(|source| RunError::Write { path: sink.describe(), source })?;
                observer.cell_finished(&record);
                remaining.retain(|&r| r != c);
                records.push(record);
                finished += 1;
            }
        }
    }
    Ok(RunOutcome { records, skipped: selection.len() - finished })
}

fn describe_loss(f: &WorkerFailure) -> String {
    let what = match f.kind {
        WorkerFailureKind::TimedOut => {
            "the cell ran past input_config.cell_timeout_s and its worker process was killed".to_string()
        }
        WorkerFailureKind::FailedToStart => "the worker process could not start".to_string(),
        WorkerFailureKind::Crashed => format!("the worker process died ({}) while running this cell", f.status),
    };
    match f.stderr_tail.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("{what}; its last stderr line: {last}"),
        None => what,
    }
}

/// Starts one worker for `remaining`, follows it until it ends, and removes
/// from `remaining` every cell whose records it delivered.
fn run_worker(
    plan: &RunPlan,
    remaining: &mut Vec<usize>,
    iso: &Isolation,
    sink: &mut dyn RecordSink,
    observer: &dyn RunObserver,
    flags: &StopFlags,
    records: &mut Vec<CellRecord>,
) -> Result<End, RunError> {
    let mut cmd = (iso.command)(remaining);
    // Its own process group: a terminal's Ctrl-C reaches only the parent, which decides.
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    // SAFETY: prctl is async-signal-safe, as pre_exec requires. The worker dies with
    // the parent even when the parent is killed outright.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let failure =
                WorkerFailure { kind: WorkerFailureKind::FailedToStart, status: e.to_string(), stderr_tail: vec![] };
            return Ok(End::Lost { cell: None, failure });
        }
    };
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let msg = match serde_json::from_str::<WorkerEvent>(&line) {
                Ok(e) => Msg::Event(e),
                // Nothing else should reach this pipe (the worker points stdout at stderr).
                Err(e) => Msg::Noise(format!("embench: UNREADABLE message from a worker process ({e}): {line}")),
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
        let _ = tx.send(Msg::Eof);
    });
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_done = {
        let tail = tail.clone();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
            let _ = done_tx.send(());
        });
        done_rx
    };

    let mut current: Option<(usize, Instant)> = None;
    let mut progress: Option<Box<dyn CellProgress + '_>> = None;
    let mut pending: Vec<CellRecord> = Vec::new();
    let (mut timed_out, mut forwarded, mut abandoned) = (false, false, false);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Msg::Event(WorkerEvent::Started { cell, label, requests })) => {
                current = Some((cell, Instant::now()));
                progress = Some(observer.cell_started(cell, plan.cells.len(), &label, requests));
            }
            Ok(Msg::Event(WorkerEvent::Progress { done, phase })) => {
                if let Some(p) = &progress {
                    p.counter().store(done, Ordering::Relaxed);
                    if let Some(phase) = phase {
                        p.phase(&phase);
                    }
                }
            }
            Ok(Msg::Event(WorkerEvent::Record { record })) => pending.push(*record),
            Ok(Msg::Event(WorkerEvent::CellDone { cell })) => {
                drop(progress.take());
                if pending.is_empty() {
                    let failure = WorkerFailure {
                        kind: WorkerFailureKind::Crashed,
                        status: "protocol error".into(),
                        stderr_tail: Vec::new(),
                    };
                    let why = "the worker process finished this cell but its records did not arrive".to_string();
                    pending.push(failure_record(plan, cell, failure, why));
                }
                for record in pending.drain(..) {
                    sink.append(&record).map_err(|source| RunError::Write { path: sink.describe(), source })?;
                    observer.cell_finished(&record);
                    records.push(record);
                }
                remaining.retain(|&c| c != cell);
                current = None;
            }
            Ok(Msg::Noise(line)) => eprintln!("{line}"),
            Ok(Msg::Eof) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Some((cell, started)) = current {
            if !timed_out && started.elapsed() > iso.cell_timeout {
                eprintln!(
                    "!! cell {} ran past its {:.0} s timeout: killing its worker process",
                    crate::run::execute::cell_label(plan, cell),
                    iso.cell_timeout.as_secs_f64()
                );
                timed_out = true;
                kill_group(pid);
            }
        }
        if flags.abandon.load(Ordering::Relaxed) && !abandoned {
            abandoned = true;
            kill_group(pid);
        } else if flags.stop.load(Ordering::Relaxed) && !forwarded {
            forwarded = true;
            if let Some((cell, _)) = current {
                eprintln!(
                    "embench: finishing the current cell ({}) before stopping; Ctrl-C again abandons it",
                    crate::run::execute::cell_label(plan, cell)
                );
            }
            // SAFETY: kill(2) on our own child's pid; it finishes its current cell on SIGINT.
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
    }
    drop(progress);
    let status = child.wait().map_err(|source| RunError::Write { path: "the worker process".into(), source })?;
    // The stderr pipe closes when the worker and any helper it started are gone; do not wait forever.
    let _ = stderr_done.recv_timeout(Duration::from_secs(2));
    let stderr_tail: Vec<String> = tail.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
    let cell = current.map(|(c, _)| c);
    let stopped_early = forwarded && status.signal() == Some(libc::SIGINT);
    if abandoned || stopped_early {
        return Ok(End::Abandoned { cell });
    }
    if timed_out {
        let failure = WorkerFailure { kind: WorkerFailureKind::TimedOut, status: describe_status(status), stderr_tail };
        return Ok(End::Lost { cell, failure });
    }
    if status.success() || (cell.is_none() && remaining.is_empty()) {
        if !status.success() {
            eprintln!("embench: a worker process ended with {} after its last cell", describe_status(status));
        }
        return Ok(End::Clean);
    }
    let kind = if cell.is_none() && stderr_tail.iter().any(|l| l.starts_with("Error:")) {
        WorkerFailureKind::FailedToStart
    } else {
        WorkerFailureKind::Crashed
    };
    Ok(End::Lost { cell, failure: WorkerFailure { kind, status: describe_status(status), stderr_tail } })
}

/// Kills the worker and every process it started (its Python workers): they share
/// the process group the worker leads.
fn kill_group(pid: libc::pid_t) {
    // SAFETY: kill(2) on the process group our own child leads.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// `exit code N` or `signal N (SIGNAME)`.
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    let sig = status.signal().unwrap_or(0);
    let name = match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    };
    format!("signal {sig} ({name})")
}
