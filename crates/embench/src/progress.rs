//! Progress on stderr, three ways:
//! - a terminal: a bar per cell (indicatif), fed by polling the request counter so
//!   the measured loop never touches the display, under an overall bar with the run's ETA;
//! - no terminal (CI logs, `| tee`): one line as each cell starts and one as it ends;
//! - `--quiet`: nothing but invalid and skipped cells.

use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use embench_runner::run::ticker::CounterTicker;
use embench_runner::{CellProgress, CellRecord, RunObserver};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much progress to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Bars (stderr is a terminal).
    Bars,
    /// A line per cell start and end.
    Lines,
    /// Only invalid and skipped cells.
    Quiet,
}

impl Display {
    /// Bars on a terminal, lines elsewhere, nothing with `quiet`.
    pub fn choose(quiet: bool) -> Self {
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Display::Quiet,
            (false, true) => Display::Bars,
            (false, false) => Display::Lines,
        }
    }
}

/// Follows a run on stderr.
pub struct Bars {
    display: Display,
    bars: MultiProgress,
    /// Cells finished of those this run runs, with the run's ETA (terminal only).
    overall: ProgressBar,
    /// The plan cell whose records came last (a cache cell writes several).
    last: std::sync::Mutex<Option<usize>>,
    /// Skip reasons already said: each is said with its first cell, the rest counted.
    skip_reasons: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

impl Bars {
    /// A display of the chosen kind for a run of `to_run` cells (a resumed or
    /// filtered run counts only its own, so the ETA is from this run's pace).
    pub fn new(display: Display, to_run: usize) -> Self {
        let target = if display == Display::Bars { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bars = MultiProgress::with_draw_target(target);
        let overall = bars.add(ProgressBar::new(to_run as u64));
        overall.set_style(
            ProgressStyle::with_template("run: {pos}/{len} cells, {elapsed} so far, eta {eta}")
                .expect("static template"),
        );
        Self { display, bars, overall, last: Default::default(), skip_reasons: Default::default() }
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
        let bar = self.bars.insert_before(&self.overall, ProgressBar::new(requests));
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
        if self.display == Display::Lines {
            eprintln!("cell {}/{}: {label}", index + 1, total);
        }
        Box::new(CellBar { bar, ticker: Some(ticker) })
    }

    fn cell_finished(&self, record: &CellRecord) {
        let (m, b, s) = (&record.model, &record.backend, &record.scenario);
        if self.display != Display::Quiet {
            for w in &record.warnings {
                self.bars.suspend(|| eprintln!("!! warning, cell {m} / {b} / {s}: {w}"));
            }
        }
        if let Some(why) = &record.skipped {
            let mut seen = self.skip_reasons.lock().unwrap_or_else(|e| e.into_inner());
            let n = seen.entry(why.clone()).or_default();
            *n += 1;
            // A reason shared by many cells (a model not fetched) is said once, then counted.
            if *n == 1 {
                let seq = record.seq_len.as_str().map_or_else(|| record.seq_len.to_string(), str::to_string);
                let at = format!("{m} / {b} / {s} at batch {} seq {seq}", record.batch_size);
                self.bars.suspend(|| eprintln!("!! SKIPPED cell {at}: {why} (cells skipped for this reason after it are not listed here; all are in results.jsonl)"));
            }
        } else if !record.valid {
            let why = record.invalid_reason.as_deref().unwrap_or("no reason recorded");
            self.bars.suspend(|| eprintln!("!! INVALID cell {m} / {b} / {s}: {why}"));
        } else if self.display == Display::Lines {
            let rate = record.embeddings_per_s.map_or("-".into(), |e| format!("{e:.1} emb/s"));
            eprintln!("  done: {rate}, valid");
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if record.cell.is_none() || *last != record.cell {
            self.overall.inc(1);
            *last = record.cell;
        }
    }
}
