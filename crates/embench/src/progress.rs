//! Progress bars (indicatif), one per cell, fed by polling the request counter
//! so the measured loop never touches the display.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use embench_runner::{CellProgress, CellRecord, RunObserver};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows a bar per cell on stderr (hidden with `--quiet` or when stderr is not a terminal).
pub struct Bars {
    quiet: bool,
}

impl Bars {
    /// A display; `quiet` hides the bars but keeps a one-line log per cell.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }
}

struct CellBar {
    bar: ProgressBar,
    counter: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl CellProgress for CellBar {
    fn phase(&self, phase: &str) {
        self.bar.set_message(phase.to_string());
    }

    fn counter(&self) -> &AtomicU64 {
        &self.counter
    }
}

impl Drop for CellBar {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

impl RunObserver for Bars {
    fn cell_started(&self, index: usize, total: usize, label: &str, requests: u64) -> Box<dyn CellProgress + '_> {
        let target = if self.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(requests), target);
        bar.set_style(
            ProgressStyle::with_template(
                "[{prefix}] {wide_msg}\n  {bar:40} {pos}/{len} requests ({per_sec}, eta {eta})",
            )
            .expect("static template"),
        );
        bar.set_prefix(format!("{}/{} {label}", index + 1, total));
        let counter = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (bar, counter, done) = (bar.clone(), counter.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(counter.load(Ordering::Relaxed).min(requests));
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        if self.quiet {
            eprintln!("cell {}/{}: {label}", index + 1, total);
        }
        Box::new(CellBar { bar, counter, done, ticker: Some(ticker) })
    }

    fn cell_finished(&self, record: &CellRecord) {
        for w in &record.warnings {
            eprintln!("!! warning, cell {} / {} / {}: {w}", record.model, record.backend, record.scenario);
        }
        if let Some(why) = &record.skipped {
            let (m, b, s) = (&record.model, &record.backend, &record.scenario);
            eprintln!("!! SKIPPED cell {m} / {b} / {s} at batch {}: {why}", record.batch_size);
        } else if !record.valid {
            eprintln!(
                "!! INVALID cell {} / {} / {}: {}",
                record.model,
                record.backend,
                record.scenario,
                record.invalid_reason.as_deref().unwrap_or("no reason recorded")
            );
        }
    }
}
