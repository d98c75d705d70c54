//! A request counter read on a timer, so progress displays never touch the measured loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A counter the runner bumps, and a thread that hands its value to `tick` every
/// interval until dropped.
pub struct CounterTicker {
    counter: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl CounterTicker {
    /// Starts the thread; `tick` gets the counter's value every `every`.
    pub fn start(every: Duration, tick: impl Fn(u64) + Send + 'static) -> Self {
        let counter = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let handle = {
            let (counter, done) = (counter.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    tick(counter.load(Ordering::Relaxed));
                    std::thread::sleep(every);
                }
            })
        };
        Self { counter, done, handle: Some(handle) }
    }

    /// The counter.
    pub fn counter(&self) -> &AtomicU64 {
        &self.counter
    }
}

impl Drop for CounterTicker {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
