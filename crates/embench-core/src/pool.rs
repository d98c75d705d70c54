//! A blocking pool of framework objects (ONNX Runtime sessions, OpenVINO infer
//! requests) that need `&mut` to run: each request checks one out, so requests
//! run concurrently up to the pool's size without one global lock.

use std::sync::{Condvar, Mutex, PoisonError};

/// A fixed set of `T`, lent out one at a time per caller.
pub struct Pool<T> {
    idle: Mutex<Vec<T>>,
    returned: Condvar,
    size: usize,
}

impl<T> Pool<T> {
    /// A pool of `items` (at least one).
    pub fn new(items: Vec<T>) -> Self {
        assert!(!items.is_empty(), "a pool needs at least one item");
        let size = items.len();
        Self { idle: Mutex::new(items), returned: Condvar::new(), size }
    }

    /// How many items the pool holds.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `f` on an idle item, waiting for one when all are lent out.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let item = loop {
            if let Some(item) = idle.pop() {
                break item;
            }
            idle = self.returned.wait(idle).unwrap_or_else(PoisonError::into_inner);
        };
        drop(idle);
        let mut lent = Lent { pool: self, item: Some(item) };
        f(lent.item.as_mut().expect("present until dropped"))
    }
}

/// Gives the item back even when `f` panics.
struct Lent<'a, T> {
    pool: &'a Pool<T>,
    item: Option<T>,
}

impl<T> Drop for Lent<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(item);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_lends_more_than_its_size_at_once() {
        let pool = Pool::new(vec![0u32, 0]);
        let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        pool.with(|n| {
                            let c = now.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(c, Ordering::SeqCst);
                            *n += 1;
                            std::thread::yield_now();
                            now.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2, "more items lent than the pool holds");
        let total: u32 = pool.idle.lock().unwrap().iter().sum();
        assert_eq!(total, 400, "every use was counted on some item, and both came back");
    }
}
