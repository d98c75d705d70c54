//! `embench serve`: one backend (its replicas × workers, with dynamic batching as
//! configured) behind OpenAI's and TEI's embeddings APIs, with axum on tokio.
//!
//! - [`routes`]: `POST /v1/embeddings` (and `/embeddings`), `POST /embed`, `GET
//!   /health`, `/info`, `/metrics`; JSON errors in each API's shape;
//! - [`inputs`]: tokenization in the server (part of its latency, as in TEI);
//! - [`metrics`]: Prometheus text, and the middleware that counts every request;
//! - [`limits`]: body size, inputs per request, requests at once.
//!
//! Inference never runs on the reactor: a handler queues its batch on the runner's
//! [`embench_runner::cell::served::Server`] (the same queues, workers and dynamic
//! batching a run's served cells use) and awaits the answer.

#![warn(missing_docs)]

pub mod inputs;
pub mod limits;
pub mod metrics;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use embench_runner::cell::served::SharedServer;

pub use inputs::ServerTokenizer;
pub use limits::Limits;
pub use routes::{router, AppState};

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting,
/// lets the requests in flight finish, and stops the replicas' workers.
///
/// Errors: the listener failing.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    replicas: SharedServer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    // Every handler has answered: the workers have nothing left to run.
    tokio::task::spawn_blocking(move || replicas.shutdown()).await.ok();
    served
}

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

/// The state of a server of `replicas`, with `info` as `GET /info`'s body.
pub fn state(
    replicas: &SharedServer,
    tokenizer: ServerTokenizer,
    limits: Limits,
    info: serde_json::Value,
    model: String,
    dim: usize,
) -> AppState {
    AppState {
        server: replicas.server().clone(),
        tokenizer: Arc::new(tokenizer),
        metrics: Arc::new(metrics::Metrics::default()),
        limits,
        info: Arc::new(info),
        model,
        dim,
    }
}
