//! How many threads a backend keeps busy at once, and the warning when that is
//! more than the usable cores: threads that outnumber cores take turns, and the
//! figures then measure the scheduler as much as the framework.
//!
//! Each framework multiplies threads its own way:
//! - ort: each session has its own intra-op pool; concurrent requests run on
//!   `min(sessions, requests in flight)` sessions at once;
//! - openvino: `inference_num_threads` is shared out among the streams, but every
//!   stream gets at least one thread (OpenVINO's CPU plugin documentation,
//!   "Performance Hints and Thread Scheduling"), so streams above the cores oversubscribe;
//! - tch: libgomp gives every calling thread its own team of intra-op threads;
//! - python-*: each worker process has its own intra-op threads;
//! - candle: one rayon pool for every caller, so concurrency adds no threads.
//!
//! Served cells (replicas × workers) are checked by the runner's serving plan.

use crate::backend::BackendKind;
use crate::config::ResolvedBackend;

/// Threads a backend runs at once, and the product that gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadDemand {
    /// Threads busy at once.
    pub threads: usize,
    /// How they multiply, e.g. `4 sessions x 2 intra-op threads`.
    pub product: String,
}

/// The threads one instance of `backend` keeps busy with `in_flight` requests at
/// once; unset thread counts resolve to `cores`, as the backends resolve them.
/// None for backends without intra-op threads (mock, python-echo, http).
pub fn thread_demand(backend: &ResolvedBackend, in_flight: usize, cores: usize) -> Option<ThreadDemand> {
    let t = backend.threads.unwrap_or(cores).max(1);
    let in_flight = in_flight.max(1);
    let (threads, product) = match backend.kind {
        BackendKind::Mock | BackendKind::PythonEcho | BackendKind::Http => return None,
        BackendKind::Candle => (t, format!("{t} threads in one pool shared by every client")),
        BackendKind::Ort | BackendKind::OrtNative => {
            let p = backend.parallelism();
            let sessions = p.instances.min(in_flight);
            // Parallel execution runs graph branches on an inter-op pool beside the intra-op one.
            let inter = p.inter_op_threads;
            let what = match backend.kind {
                BackendKind::OrtNative => "worker processes (sessions)",
                _ => "sessions",
            };
            let per = match inter {
                0 => format!("{t} intra-op threads"),
                n => format!("({t} intra-op + {n} inter-op threads)"),
            };
            (sessions * (t + inter), format!("{sessions} {what} running at once x {per}"))
        }
        BackendKind::Openvino => {
            let busy = backend.parallelism().instances.min(in_flight);
            (
                t.max(busy),
                format!("{busy} streams running at once (at least 1 thread each) sharing {t} inference threads"),
            )
        }
        BackendKind::Tch => (
            in_flight * t,
            format!("{in_flight} calling threads x {t} intra-op threads each (libgomp team per caller)"),
        ),
        BackendKind::PythonOrt | BackendKind::PythonTorch | BackendKind::PythonOpenvino => {
            let processes = backend.parallelism().instances.min(in_flight);
            (processes * t, format!("{processes} worker processes running at once x {t} intra-op threads"))
        }
    };
    Some(ThreadDemand { threads, product })
}

/// The warning for `backend` at `concurrency` clients on `cores` usable cores, or None when it fits.
pub fn oversubscription_warning(backend: &ResolvedBackend, concurrency: usize, cores: usize) -> Option<String> {
    let d = thread_demand(backend, concurrency, cores)?;
    (d.threads > cores).then(|| {
        format!(
            "oversubscribed: {} = {} threads > {cores} usable cores at {concurrency} client(s); they take turns and the figures measure the scheduler too (fix: fewer threads, sessions, streams or processes)",
            d.product, d.threads
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendSettings, Parallelism, Settings};

    /// A crate's settings, reduced to what this module reads of them.
    #[derive(Debug)]
    struct Runs(Parallelism);

    impl BackendSettings for Runs {
        fn to_json(&self) -> serde_json::Value {
            serde_json::json!({"instances": self.0.instances, "inter_op_threads": self.0.inter_op_threads})
        }
        fn parallelism(&self) -> Parallelism {
            self.0
        }
    }

    fn backend(kind: BackendKind, threads: Option<usize>) -> ResolvedBackend {
        ResolvedBackend {
            kind,
            label: kind.to_string(),
            precision: Default::default(),
            threads,
            device: crate::config::DeviceKind::Cpu,
            settings: None,
            device_auto: false,
        }
    }

    fn with(mut b: ResolvedBackend, instances: usize, inter_op_threads: usize) -> ResolvedBackend {
        b.settings = Some(Settings::new(Runs(Parallelism { instances, inter_op_threads })));
        b
    }

    #[test]
    fn every_way_threads_multiply_is_named() {
        let ort = with(backend(BackendKind::Ort, None), 4, 0);
        let w = oversubscription_warning(&ort, 4, 2).unwrap();
        assert!(w.contains("4 sessions running at once x 2 intra-op threads = 8 threads > 2 usable cores"), "{w}");
        assert_eq!(oversubscription_warning(&ort, 1, 2), None, "one client uses one session");
        // Parallel execution adds the inter-op pool; ort-native counts its worker processes.
        let native = with(backend(BackendKind::OrtNative, Some(2)), 1, 2);
        let w = oversubscription_warning(&native, 1, 2).unwrap();
        assert!(
            w.contains("1 worker processes (sessions) running at once x (2 intra-op + 2 inter-op threads) = 4 threads"),
            "{w}"
        );

        let ov = with(backend(BackendKind::Openvino, Some(2)), 4, 0);
        let w = oversubscription_warning(&ov, 8, 2).unwrap();
        assert!(w.contains("4 streams running at once") && w.contains("= 4 threads > 2"), "{w}");

        let py = with(backend(BackendKind::PythonTorch, Some(2)), 3, 0);
        let w = oversubscription_warning(&py, 3, 2).unwrap();
        assert!(w.contains("3 worker processes running at once x 2 intra-op threads = 6 threads"), "{w}");

        let w = oversubscription_warning(&backend(BackendKind::Tch, Some(2)), 4, 2).unwrap();
        assert!(w.contains("4 calling threads x 2 intra-op threads"), "{w}");
        let w = oversubscription_warning(&backend(BackendKind::Candle, Some(8)), 4, 2).unwrap();
        assert!(w.contains("= 8 threads > 2"), "{w}");
        assert_eq!(oversubscription_warning(&backend(BackendKind::Candle, Some(2)), 4, 2), None);
        assert_eq!(oversubscription_warning(&backend(BackendKind::Mock, Some(64)), 4, 2), None);
    }
}
