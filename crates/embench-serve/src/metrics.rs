//! `GET /metrics`: Prometheus text (prometheus-client) — requests by route and
//! status, request and queue latency histograms, formed batch sizes, in-flight
//! requests — and the middleware that counts every request, 404s included.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A route and the status it answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    /// The matched route (`unmatched` for a 404).
    pub route: String,
    /// HTTP status.
    pub status: u16,
}

/// A route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// The matched route.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 6.7 s, doubling.
    Histogram::new(exponential_buckets(50e-6, 2.0, 18))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    duration: Family<Route, Histogram, fn() -> Histogram>,
    queue: Histogram,
    formed: Histogram,
    inputs: Counter,
    tokens: Counter,
    in_flight: Gauge,
    /// The same count, for the 429 limit (read on every request).
    pub in_flight_now: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteStatus, Counter>::default();
        let duration = Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let queue = latency_histogram();
        let formed = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        let (inputs, tokens, in_flight) = (Counter::default(), Counter::default(), Gauge::default());
        registry.register("embench_requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "embench_request_duration_seconds",
            "From the request's arrival to its answer (body read, tokenisation, queue, inference, encoding)",
            duration.clone(),
        );
        registry.register(
            "embench_queue_duration_seconds",
            "Time an embedding request waited for a model worker",
            queue.clone(),
        );
        registry.register(
            "embench_formed_batch_inputs",
            "Inputs per batch the model ran (several requests joined under dynamic batching)",
            formed.clone(),
        );
        registry.register("embench_inputs", "Texts or token-id inputs embedded", inputs.clone());
        registry.register("embench_prompt_tokens", "Real tokens of the inputs embedded", tokens.clone());
        registry.register("embench_in_flight_requests", "Requests being answered now", in_flight.clone());
        Self {
            registry,
            requests,
            duration,
            queue,
            formed,
            inputs,
            tokens,
            in_flight,
            in_flight_now: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// One embedding request's queue time, its inputs and tokens, and (once per
    /// batch, from its first request) the inputs of the batch it ran in.
    pub fn embedded(&self, queued: Duration, formed: Option<usize>, inputs: usize, tokens: u64) {
        self.queue.observe(queued.as_secs_f64());
        if let Some(formed) = formed {
            self.formed.observe(formed as f64);
        }
        self.inputs.inc_by(inputs as u64);
        self.tokens.inc_by(tokens);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// One request in flight; leaving (even when the client went away and the
/// request's future was dropped) takes it off the count.
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn enter(metrics: &'a Metrics) -> Self {
        metrics.in_flight.inc();
        metrics.in_flight_now.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
        self.0.in_flight_now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts every request by route and status, and times it.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let start = Instant::now();
    let _in_flight = InFlight::enter(&metrics);
    let response = next.run(request).await;
    metrics.requests.get_or_create(&RouteStatus { route: route.clone(), status: response.status().as_u16() }).inc();
    metrics.duration.get_or_create(&Route { route }).observe(start.elapsed().as_secs_f64());
    response
}
