//! The runner's statistics against the mock's exactly known service times.
//!
//! The mock's request `i` is drawn as `service_time(i)` and the mock logs how long
//! it actually served each request (the OS's sleep overshoots now and then, and
//! that is what a client really waited). The runner's recorded p50/p99/p99.9 must
//! match the served times' within 1 %; the served median must match the drawn
//! distribution's within 1 % (the mock does what it is told); and QPS must match
//! concurrency / mean service time.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use embench_core::config::{MockSettings, ServiceTime};
use embench_core::TokenizedBatch;
use embench_mock::MockEmbedder;
use embench_runner::closed_loop::run_closed_loop;

/// Timing tests must not share the two cores with each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn batch() -> Vec<TokenizedBatch> {
    vec![TokenizedBatch {
        batch_size: 1,
        seq_len: 2,
        input_ids: vec![101, 102],
        attention_mask: vec![1, 1],
        token_type_ids: vec![0, 0],
    }]
}

/// Nearest-rank quantile of `sorted`.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn check(service_time: ServiceTime, concurrency: usize, requests: u64) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mock =
        MockEmbedder::new(MockSettings { service_time, stall: None, embedding_dim: 8, seed: 7 }).with_service_log();
    let mut drawn: Vec<Duration> = (0..requests).map(|i| mock.service_time(i)).collect();
    drawn.sort();

    let outcome = run_closed_loop(&mock, &batch(), concurrency, requests, &AtomicU64::new(0));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.histogram.len(), requests);
    let mut served = mock.served();
    served.sort();
    assert_eq!(served.len() as u64, requests);
    for q in [0.5, 0.99, 0.999] {
        let (got, want) = (outcome.histogram.quantile_ms(q), quantile(&served, q));
        let rel = (got - want).abs() / want;
        assert!(
            rel < 0.01,
            "c={concurrency} q={q}: recorded {got:.4} ms vs served {want:.4} ms ({:.2} % off)",
            rel * 100.0
        );
    }
    let (served_p50, drawn_p50) = (quantile(&served, 0.5), quantile(&drawn, 0.5));
    assert!((served_p50 - drawn_p50).abs() / drawn_p50 < 0.01, "served p50 {served_p50:.4} vs drawn {drawn_p50:.4}");

    let mean_s = served.iter().map(Duration::as_secs_f64).sum::<f64>() / requests as f64;
    let qps = requests as f64 / outcome.wall.as_secs_f64();
    let expected = concurrency as f64 / mean_s;
    let rel = (qps - expected).abs() / expected;
    assert!(rel < 0.05, "c={concurrency}: QPS {qps:.1} vs concurrency/mean service time {expected:.1}");
}

#[test]
fn uniform_service_time_concurrency_1() {
    check(ServiceTime::Uniform { min_ms: 4.0, max_ms: 12.0 }, 1, 500);
}

#[test]
fn uniform_service_time_concurrency_4() {
    check(ServiceTime::Uniform { min_ms: 4.0, max_ms: 12.0 }, 4, 1200);
}

#[test]
fn exponential_service_time_concurrency_4() {
    check(ServiceTime::Exponential { mean_ms: 5.0 }, 4, 1500);
}

#[test]
fn uniform_service_time_concurrency_8() {
    // Four clients per core: service times long enough that the scheduler's
    // microseconds stay below 1 % even at p99.9.
    check(ServiceTime::Uniform { min_ms: 10.0, max_ms: 30.0 }, 8, 1200);
}

#[test]
fn constant_service_time_concurrency_2() {
    check(ServiceTime::Constant { ms: 3.0 }, 2, 1000);
}
