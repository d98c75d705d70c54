//! The mock backend: no model, a seeded service time per request.
//!
//! Request `i` (counted from the mock's creation, first request and warm-up
//! included) takes `service_time(i)`, a pure function of the seed and `i`, so a
//! test can compute exactly which service times a run applied and check the
//! runner's statistics against them. Optional periodic stalls freeze the mock
//! for `duration_ms` every `every_ms` of wall time, like a GC pause.

#![warn(missing_docs)]

mod backend;
pub mod settings;
pub use backend::MockBackend;
pub use settings::{BatchCost, Crash, CrashKind, MockSettings, ServiceTime, Stall, WrongOutput, WrongValues};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use embench_core::{BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, Precision, TokenizedBatch};
use spin_sleep::{SpinSleeper, SpinStrategy};

/// A model-free backend.
pub struct MockEmbedder {
    settings: MockSettings,
    next_request: AtomicU64,
    created: Instant,
    sleeper: SpinSleeper,
    info: BackendInfo,
    /// When enabled, the time each request actually spent being served.
    service_log: Option<Mutex<Vec<Duration>>>,
    /// Pretends to run on a GPU (`device: cuda`): `oom_above_batch` applies.
    simulated_gpu: bool,
}

impl MockEmbedder {
    /// A mock with `settings`.
    pub fn new(settings: MockSettings) -> Self {
        Self {
            settings,
            next_request: AtomicU64::new(0),
            created: Instant::now(),
            // Sleep natively to within 1 ms of the deadline, then yield-spin:
            // accurate to microseconds without burning a core per client.
            sleeper: SpinSleeper::new(1_000_000).with_spin_strategy(SpinStrategy::YieldThread),
            info: BackendInfo {
                framework: "mock".into(),
                framework_version: env!("CARGO_PKG_VERSION").into(),
                device: "none".into(),
                precision: Precision::Fp32,
                intra_op_threads: 1,
                settings: Default::default(),
                notes: Vec::new(),
            },
            service_log: None,
            simulated_gpu: false,
        }
    }

    /// Pretends to run on a GPU: recorded as such, and batches over
    /// `oom_above_batch` texts fail with a CUDA out-of-memory error.
    pub fn on_simulated_gpu(mut self) -> Self {
        self.simulated_gpu = true;
        self.info.device = "cuda (simulated by the mock)".into();
        self
    }

    /// Also records how long each request was actually served (the OS's sleep is
    /// not exact), so tests can compare the runner's figures with the truth.
    pub fn with_service_log(mut self) -> Self {
        self.service_log = Some(Mutex::new(Vec::new()));
        self
    }

    /// The served times recorded so far (empty unless [`MockEmbedder::with_service_log`]).
    pub fn served(&self) -> Vec<Duration> {
        self.service_log.as_ref().map(|l| l.lock().expect("log lock").clone()).unwrap_or_default()
    }

    /// The service time of request `i`.
    pub fn service_time(&self, i: u64) -> Duration {
        let ms = match self.settings.service_time {
            ServiceTime::Constant { ms } => ms,
            ServiceTime::Uniform { min_ms, max_ms } => {
                min_ms + unit_interval(self.settings.seed, i) * (max_ms - min_ms)
            }
            ServiceTime::Exponential { mean_ms } => -mean_ms * (1.0 - unit_interval(self.settings.seed, i)).ln(),
        };
        Duration::from_secs_f64(ms / 1e3)
    }

    /// The extra time a batch of `texts` costs (`batch_cost`).
    pub fn batch_time(&self, texts: usize) -> Duration {
        let Some(c) = &self.settings.batch_cost else { return Duration::ZERO };
        let b = texts as f64;
        Duration::from_secs_f64((c.per_text_ms * b + c.per_text_squared_ms * b * b) / 1e3)
    }

    /// How long a request starting `since_creation` after the mock was made waits for a stall to end.
    pub fn stall_wait(&self, since_creation: Duration) -> Duration {
        let Some(stall) = &self.settings.stall else {
            return Duration::ZERO;
        };
        let phase_ms = (since_creation.as_secs_f64() * 1e3) % stall.every_ms;
        if phase_ms < stall.duration_ms {
            Duration::from_secs_f64((stall.duration_ms - phase_ms) / 1e3)
        } else {
            Duration::ZERO
        }
    }
}

/// Takes the whole process down the way a native runtime's bug would.
fn crash_now(how: CrashKind) -> ! {
    eprintln!("mock: crashing on purpose ({how:?}), as configured by 'crash'");
    match how {
        CrashKind::Abort => std::process::abort(),
        CrashKind::Segfault => {
            // SAFETY: resetting a signal's disposition and raising it have no
            // memory-safety preconditions. Rust's own SIGSEGV handler (stack-overflow
            // detection) goes first, so that the default action ends the process as a
            // real segmentation fault would.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
            unreachable!("SIGSEGV's default action ends the process")
        }
        CrashKind::Hang => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

/// Makes `data`'s vectors wrong: non-finite, or turned away from the right direction.
fn spoil(data: &mut [f32], dim: usize, values: WrongValues) {
    for row in data.chunks_mut(dim.max(1)) {
        match values {
            WrongValues::Nan => row.fill(f32::NAN),
            WrongValues::Inf => row.fill(f32::INFINITY),
            // The right vector has its weight on component 0; this one has none there.
            WrongValues::Noise => {
                row[0] = 0.0;
                row.iter_mut().enumerate().skip(1).for_each(|(k, v)| *v = 1.0 / (k as f32));
            }
        }
    }
}

/// A uniform draw in [0, 1) that depends only on `seed` and `i` (SplitMix64).
fn unit_interval(seed: u64, i: u64) -> f64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl Embedder for MockEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        if let Some(crash) = self.settings.crash.filter(|c| c.at_batch == batch.batch_size) {
            crash_now(crash.how);
        }
        if let Some(limit) = self.settings.oom_above_batch.filter(|&n| self.simulated_gpu && batch.batch_size > n) {
            return Err(EmbedError::new(
                "mock",
                Phase::Inference,
                format!(
                    "CUDA out of memory: a batch of {} texts does not fit (simulated above {limit})",
                    batch.batch_size
                ),
            ));
        }
        let start = self.service_log.as_ref().map(|_| Instant::now());
        let i = self.next_request.fetch_add(1, Ordering::Relaxed);
        let mut wait = self.service_time(i) + self.batch_time(batch.batch_size);
        if self.settings.stall.is_some() {
            wait += self.stall_wait(self.created.elapsed());
        }
        if !wait.is_zero() {
            self.sleeper.sleep(wait);
        }
        if let (Some(log), Some(start)) = (&self.service_log, start) {
            let served = start.elapsed();
            log.lock().expect("log lock").push(served);
        }
        let dim = self.settings.embedding_dim;
        // A unit vector that depends on the row's real tokens (padding left out, as a
        // model's attention mask does), so equal texts get equal vectors at any padding.
        let mut data = vec![0f32; batch.batch_size * dim];
        for (r, row) in data.chunks_mut(dim.max(1)).enumerate() {
            let span = r * batch.seq_len..(r + 1) * batch.seq_len;
            let real = batch.input_ids[span.clone()].iter().zip(&batch.attention_mask[span]).filter(|(_, &m)| m != 0);
            let h = real.fold(self.settings.seed, |h, (&t, _)| h.rotate_left(5) ^ (t as u64).wrapping_mul(0x9E37_79B9));
            row[0] = 1.0;
            if dim > 1 {
                row[1 + (h % (dim as u64 - 1)) as usize] = (h >> 40) as f32 / (1u64 << 24) as f32;
            }
        }
        if let Some(wrong) = self.settings.wrong_output.filter(|w| w.applies(batch.batch_size, batch.seq_len)) {
            spoil(&mut data, dim, wrong.values);
        }
        Ok(Embeddings { rows: batch.batch_size, dim, data })
    }

    /// Images are served as texts are (same service time, same failures): each image
    /// becomes a row of 16 ids hashed from its pixels, so equal images get equal vectors.
    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        let images = match input {
            EmbedInput::Text(batch) => return self.embed(batch),
            EmbedInput::Image(images) => images,
        };
        const IDS: usize = 16;
        let per_image = images.pixels.len() / images.batch_size.max(1);
        let mut input_ids = Vec::with_capacity(images.batch_size * IDS);
        for row in images.pixels.chunks(per_image.max(1)) {
            for part in row.chunks(row.len().div_ceil(IDS).max(1)).take(IDS) {
                let h = part.iter().fold(0u64, |h, v| h.rotate_left(7) ^ u64::from(v.to_bits()));
                input_ids.push((h % 30_000) as i64 + 1000);
            }
            input_ids.resize(input_ids.len().div_ceil(IDS) * IDS, 1);
        }
        let n = images.batch_size * IDS;
        self.embed(&TokenizedBatch {
            batch_size: images.batch_size,
            seq_len: IDS,
            input_ids,
            attention_mask: vec![1; n],
            token_type_ids: vec![0; n],
            texts: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Stall, WrongOutput};

    fn mock(service_time: ServiceTime, stall: Option<Stall>) -> MockEmbedder {
        MockEmbedder::new(MockSettings {
            service_time,
            stall,
            batch_cost: None,
            embedding_dim: 4,
            seed: 1,
            oom_above_batch: None,
            crash: None,
            wrong_output: None,
        })
    }

    #[test]
    fn draws_are_deterministic_and_follow_the_distribution() {
        let m = mock(ServiceTime::Uniform { min_ms: 2.0, max_ms: 4.0 }, None);
        assert_eq!(m.service_time(17), m.service_time(17));
        let mean = (0..100_000).map(|i| m.service_time(i).as_secs_f64()).sum::<f64>() / 1e5;
        assert!((mean - 0.003).abs() < 0.00002, "mean {mean}");
        let e = mock(ServiceTime::Exponential { mean_ms: 5.0 }, None);
        let mean = (0..100_000).map(|i| e.service_time(i).as_secs_f64()).sum::<f64>() / 1e5;
        assert!((mean - 0.005).abs() < 0.0001, "mean {mean}");
    }

    #[test]
    fn stalls_wait_until_the_window_ends() {
        let m = mock(ServiceTime::Constant { ms: 0.0 }, Some(Stall { every_ms: 1000.0, duration_ms: 100.0 }));
        assert_eq!(m.stall_wait(Duration::from_millis(1030)), Duration::from_millis(70));
        assert_eq!(m.stall_wait(Duration::from_millis(1500)), Duration::ZERO);
    }

    #[test]
    fn returns_one_unit_vector_per_input() {
        let m = mock(ServiceTime::Constant { ms: 0.0 }, None);
        let batch = TokenizedBatch {
            batch_size: 2,
            seq_len: 1,
            input_ids: vec![1, 2],
            attention_mask: vec![1, 1],
            token_type_ids: vec![0, 0],
            texts: Vec::new(),
        };
        let e = m.embed(&batch).unwrap();
        assert_eq!((e.rows, e.dim), (2, 4));
        assert_eq!(e.row(1), &[1.0, 0.0, 0.0, 0.0]);
    }

    fn rows(batch: usize, seq: usize) -> TokenizedBatch {
        TokenizedBatch {
            batch_size: batch,
            seq_len: seq,
            input_ids: (0..batch * seq).map(|i| i as i64).collect(),
            attention_mask: vec![1; batch * seq],
            token_type_ids: vec![0; batch * seq],
            texts: Vec::new(),
        }
    }

    #[test]
    fn padding_does_not_change_a_vector() {
        let m = mock(ServiceTime::Constant { ms: 0.0 }, None);
        let mut padded = rows(1, 6);
        padded.attention_mask[4..].fill(0);
        padded.input_ids[4..].fill(0);
        assert_eq!(m.embed(&padded).unwrap().data, m.embed(&rows(1, 4)).unwrap().data);
    }

    #[test]
    fn wrong_output_spoils_only_above_its_shape() {
        let mut m = mock(ServiceTime::Constant { ms: 0.0 }, None);
        let right = m.embed(&rows(4, 8)).unwrap();
        m.settings.wrong_output =
            Some(WrongOutput { values: WrongValues::Nan, above_batch: Some(2), above_seq: Some(4) });
        assert_eq!(m.embed(&rows(4, 8)).unwrap().data.iter().filter(|v| v.is_nan()).count(), 16);
        assert!(m.embed(&rows(2, 8)).unwrap().data.iter().all(|v| v.is_finite()), "batch 2 is not above 2");
        assert!(m.embed(&rows(4, 4)).unwrap().data.iter().all(|v| v.is_finite()), "seq 4 is not above 4");
        m.settings.wrong_output = Some(WrongOutput { values: WrongValues::Noise, above_batch: None, above_seq: None });
        let wrong = m.embed(&rows(4, 8)).unwrap();
        assert!(wrong.data.iter().all(|v| v.is_finite()));
        assert_eq!(wrong.row(0)[0], 0.0);
        assert_ne!(wrong.data, right.data);
    }
}
