//! Replicas × workers, dynamic batching, minimum durations and the SLO search
//! against the mock's known service times.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use embench_core::config::{Arrival, DynamicBatching, Mode, Slo};
use embench_core::embedder::Padding;
use embench_core::{Embedder, TokenizedBatch};
use embench_mock::MockEmbedder;
use embench_mock::{BatchCost, MockSettings, ServiceTime};
use embench_runner::cell::measure::search_max_qps;
use embench_runner::cell::served::{mean_formed, Server};
use embench_runner::loadgen::worker_loop::{run_for, LoopOutcome};

/// Timing tests must not share the two cores with each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn one_text() -> TokenizedBatch {
    TokenizedBatch {
        batch_size: 1,
        seq_len: 2,
        input_ids: vec![101, 102],
        attention_mask: vec![1, 1],
        token_type_ids: vec![0, 0],
        texts: Vec::new(),
    }
}

fn mock(ms: f64, per_text_ms: f64) -> MockEmbedder {
    MockEmbedder::new(MockSettings {
        service_time: ServiceTime::Constant { ms },
        stall: None,
        batch_cost: Some(BatchCost { per_text_ms, per_text_squared_ms: 0.0 }),
        embedding_dim: 8,
        seed: 3,
        oom_above_batch: None,
        crash: None,
        wrong_output: None,
    })
    .with_service_log()
}

fn qps(o: &LoopOutcome) -> f64 {
    o.histogram.len() as f64 / o.wall.as_secs_f64()
}

/// 8 clients on one replica with one worker: a batch costs 2 ms + 0.25 ms per text,
/// so batching 8 requests serves them in 4 ms instead of 18.
#[test]
fn dynamic_batching_forms_batches_and_beats_the_unbatched_run() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let input = one_text();
    let request = embench_core::RequestInput::Text(input.clone());
    let run = |batching: Option<DynamicBatching>| {
        let replicas: Vec<Box<dyn Embedder>> = vec![Box::new(mock(2.0, 0.25))];
        Server::run(&replicas, 1, batching, Padding::default(), |server| {
            let serve = |_: u64| server.submit(&request);
            run_for(&serve, 8, 400, Duration::ZERO, &AtomicU64::new(0), &Mode::ClosedLoop)
        })
    };
    let (plain, plain_formed) = run(None);
    let (batched, formed) = run(Some(DynamicBatching { max_batch_size: 8, max_wait_us: 2000 }));
    assert!(plain.errors.is_empty() && batched.errors.is_empty());
    assert_eq!((plain.histogram.len(), batched.histogram.len()), (400, 400));
    // Unbatched: every batch is one text, and each request queues behind the other 7 clients' (latency includes queueing).
    assert_eq!(plain_formed.keys().copied().collect::<Vec<_>>(), vec![1]);
    assert!(plain.histogram.quantile_ms(0.5) > 5.0 * 2.25, "p50 {:.2} ms", plain.histogram.quantile_ms(0.5));
    let mean = mean_formed(&formed).unwrap();
    assert!(mean > 4.0 && formed.keys().all(|&b| b <= 8), "formed {formed:?}");
    assert_eq!(formed.iter().map(|(b, n)| b * *n as usize).sum::<usize>(), 400);
    assert!(qps(&batched) > 2.0 * qps(&plain), "batched {:.0}/s vs plain {:.0}/s", qps(&batched), qps(&plain));
}

/// Requests go to replicas in turn, and replicas serve in parallel.
#[test]
fn replicas_share_the_requests_and_serve_in_parallel() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let input = one_text();
    let request = embench_core::RequestInput::Text(input.clone());
    let replicas: Vec<Box<dyn Embedder>> = vec![Box::new(mock(4.0, 0.0)), Box::new(mock(4.0, 0.0))];
    let (out, formed) = Server::run(&replicas, 1, None, Padding::default(), |server| {
        let serve = |_: u64| server.submit(&request);
        run_for(&serve, 2, 200, Duration::ZERO, &AtomicU64::new(0), &Mode::ClosedLoop)
    });
    assert_eq!(formed.get(&1), Some(&200));
    // One 4 ms replica serves 250/s; two serve about 500/s.
    assert!(qps(&out) > 400.0, "{:.0}/s", qps(&out));
}

/// The measured phase goes on past its request count until the minimum duration.
#[test]
fn measurement_lasts_the_minimum_duration() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = mock(2.0, 0.0);
    let input = one_text();
    let serve = |_: u64| m.embed(&input).map(drop);
    let out = run_for(&serve, 1, 10, Duration::from_millis(300), &AtomicU64::new(0), &Mode::ClosedLoop);
    assert!(out.wall >= Duration::from_millis(300), "{:?}", out.wall);
    assert!(out.histogram.len() > 100, "{} requests", out.histogram.len());
    assert_eq!(out.timeline.len() as u64, out.histogram.len());
    // Open loop: the schedule is made long enough (50/s for 0.3 s: 16 requests).
    let open = Mode::OpenLoop { rate_qps: 50.0, arrival: Arrival::Fixed, seed: 0 };
    let out = run_for(&serve, 1, 2, Duration::from_millis(300), &AtomicU64::new(0), &open);
    assert_eq!(out.histogram.len(), 16);
}

/// One worker, a constant 2 ms service and fixed arrivals (D/D/1): latency stays
/// at the service time up to the capacity 1 / (mean served time) and grows
/// without bound past it, so the highest rate with p99 under 10 ms is the capacity.
#[test]
fn slo_search_converges_to_the_capacity_of_a_deterministic_queue() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = mock(2.0, 0.0);
    let input = one_text();
    let serve = |_: u64| m.embed(&input).map(drop);
    let slo =
        Slo { percentile: 99.0, bound_ms: 10.0, tolerance: 0.02, max_probes: 10, arrival: Arrival::Fixed, seed: 1 };
    let (result, shown) = search_max_qps(&serve, 1, 300, Duration::ZERO, &slo, &AtomicU64::new(0));
    let served = m.served();
    let truth = served.len() as f64 / served.iter().map(Duration::as_secs_f64).sum::<f64>();
    let found = result.max_qps.expect(&result.note);
    assert!((found - truth).abs() / truth < 0.05, "found {found:.1}/s, capacity {truth:.1}/s ({result:?})");
    let (rate, run) = shown.unwrap();
    assert_eq!(rate, found);
    assert!(run.histogram.quantile_ms(0.99) <= 10.0);

    // A bound below the service time cannot be met at any rate.
    let tight = Slo { bound_ms: 1.0, max_probes: 4, ..slo };
    let (result, _) = search_max_qps(&serve, 1, 100, Duration::ZERO, &tight, &AtomicU64::new(0));
    assert_eq!(result.max_qps, None, "{result:?}");
    assert_eq!(result.probes.len(), 4);
}

/// Client 0 is the calling thread, so at concurrency 1 a cell's requests (first,
/// warm-up, measured, gate) all come from one thread: libgomp keeps a team of
/// threads per calling thread, and libtorch at batch 1 lost 7 % when a second
/// team existed. At higher concurrency the other clients get threads of their own.
#[test]
fn the_calling_thread_is_client_zero() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let here = std::thread::current().id();
    for concurrency in [1, 3] {
        let calls = Mutex::new(HashMap::new());
        let serve = |_: u64| {
            *calls.lock().unwrap().entry(std::thread::current().id()).or_insert(0u64) += 1;
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        };
        let out = run_for(&serve, concurrency, 60, Duration::ZERO, &AtomicU64::new(0), &Mode::ClosedLoop);
        assert_eq!(out.histogram.len(), 60);
        let calls = calls.into_inner().unwrap();
        assert_eq!(calls.len(), concurrency, "concurrency {concurrency}: {calls:?}");
        assert!(calls.get(&here).is_some_and(|&n| n > 0), "the caller served none: {calls:?}");
        assert!(calls.values().all(|&n| n > 0), "a client served none: {calls:?}");
        assert_eq!(calls.values().sum::<u64>(), 60);
    }
}
