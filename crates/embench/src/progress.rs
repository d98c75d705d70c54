//! Progress bars (indicatif), one per cell, fed by polling the request counter
//! so the measured loop never touches the display.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use embench_runner::ticker::CounterTicker;
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
    ticker: Option<CounterTicker>,
}

impl CellProgress for CellBar {
    fn phase(&self, phase: &str) {
        self.bar.set_message(phase.to_string());
    }

    fn counter(&self) -> &AtomicU64 {
        self.ticker.as_ref().expect("the ticker lives as long as the bar").counter()
    }
}

impl Drop for CellBar {
    fn drop(&mut self) {
        drop(self.ticker.take());
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
        let ticker = {
            let bar = bar.clone();
            CounterTicker::start(Duration::from_millis(100), move |n| bar.set_position(n.min(requests)))
        };
        if self.quiet {
            eprintln!("cell {}/{}: {label}", index + 1, total);
        }
        Box::new(CellBar { bar, ticker: Some(ticker) })
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
