//! The routes: OpenAI's `POST /v1/embeddings`, TEI's `POST /embed`, and `GET
//! /health`, `/info`, `/metrics`. Every refusal is a JSON error in the API's own
//! shape with the status the API uses; nothing a client sends reaches a panic.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use embench_core::{Embeddings, RequestInput, TokenizedBatch};
use embench_http::api::{
    EmbeddingValue, EncodingFormat, OpenAiEmbedding, OpenAiError, OpenAiErrorBody, OpenAiInput, OpenAiRequest,
    OpenAiResponse, TeiError, TeiInput, TeiRequest, Usage,
};
use embench_runner::cell::guard::Truncation;
use embench_runner::cell::served::{Done, Reply, Server};

use crate::inputs::{InputError, ServerTokenizer};
use crate::limits::Limits;
use crate::metrics::{track, Metrics};

/// Inputs longer than this in all (bytes) are tokenized on a blocking thread, off the reactor.
const INLINE_TOKENIZE_BYTES: usize = 16 << 10;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The replicas' queues.
    pub server: Arc<Server<'static>>,
    /// Texts into ids.
    pub tokenizer: Arc<ServerTokenizer>,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// Per-request limits.
    pub limits: Limits,
    /// `GET /info`'s body.
    pub info: Arc<serde_json::Value>,
    /// The model's name in answers (its key in models.yaml).
    pub model: String,
    /// Values per vector the backend gives (after the model's own Matryoshka cut).
    pub dim: usize,
}

/// The router with every route, the body limit and the metrics middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/embeddings", post(openai))
        .route("/embeddings", post(openai))
        .route("/embed", post(tei))
        .route("/health", get(health))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), track))
        .with_state(state)
}

/// A refusal: status, message, a machine-readable code, and the API whose shape it takes.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    code: &'static str,
    tei: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            400 => "invalid_json",
            404 => "unknown_route",
            405 => "method_not_allowed",
            408 => "body_timeout",
            413 => "too_large",
            422 => "invalid_value",
            429 => "overloaded",
            _ => "server_error",
        };
        Self { status, message: message.into(), code, tei: false }
    }

    fn code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    fn tei(mut self) -> Self {
        self.tei = true;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // OpenAI's error types; the specific reason goes in `code`.
        let kind = match self.status.as_u16() {
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        if self.tei {
            let error_type = match self.status.as_u16() {
                429 => "Overloaded",
                s if s >= 500 => "Backend",
                _ => "Validation",
            };
            return (self.status, Json(TeiError { error: self.message, error_type: error_type.into() }))
                .into_response();
        }
        let body = OpenAiError {
            error: OpenAiErrorBody {
                message: self.message,
                kind: kind.into(),
                param: None,
                code: Some(self.code.into()),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        let (status, code) = match e {
            InputError::TooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "context_length_exceeded"),
            InputError::Tokenizer(_) => (StatusCode::INTERNAL_SERVER_ERROR, "tokenizer_failed"),
            InputError::Empty | InputError::EmptyInput(_) => (StatusCode::UNPROCESSABLE_ENTITY, "empty_input"),
            InputError::BadId { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_token_id"),
        };
        ApiError::new(status, e.to_string()).code(code)
    }
}

/// The whole body: 413 as soon as it passes the size limit, 408 when it is not
/// complete within the body timeout, 400 when the connection fails mid-body.
async fn read_body(s: &AppState, body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let limit = s.limits.max_body_bytes;
    let read = async move {
        let mut body = body;
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("reading the body failed: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > limit {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the body is over the limit of {limit} bytes (fix: send fewer or shorter inputs per request)"),
                    ));
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok(Bytes::from(bytes))
    };
    match tokio::time::timeout(s.limits.body_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body was not complete {} ms after the headers (shorter than its Content-Length?)",
                s.limits.body_timeout.as_millis()
            ),
        )),
    }
}

/// The body, read and parsed: 413 over the size limit, 408 incomplete, 400 for bad
/// JSON (or UTF-8), 422 for JSON of the wrong shape, 429 when the server is full.
async fn parse<T: serde::de::DeserializeOwned>(s: &AppState, body: Body) -> Result<T, ApiError> {
    let body = read_body(s, body).await?;
    // The middleware counted this request already.
    if s.metrics.in_flight_now.load(Ordering::Relaxed) > s.limits.max_in_flight as i64 {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("more than {} requests in the server at once; retry later", s.limits.max_in_flight),
        ));
    }
    serde_json::from_slice(&body).map_err(|e| {
        let status = match e.classify() {
            serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, format!("invalid request body: {e}"))
    })
}

/// Refuses more than `limits.max_inputs` inputs.
fn check_count(s: &AppState, n: usize) -> Result<(), ApiError> {
    if n > s.limits.max_inputs {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{n} inputs in one request; the limit is {} (fix: split the request)", s.limits.max_inputs),
        ));
    }
    Ok(())
}

/// Tokenizes `texts` (off the reactor when they are long).
async fn tokenize(s: &AppState, texts: Vec<String>, truncate: bool) -> Result<(TokenizedBatch, u64), ApiError> {
    check_count(s, texts.len())?;
    let run = move |t: &ServerTokenizer, texts: &[String]| {
        t.texts(&texts.iter().map(String::as_str).collect::<Vec<_>>(), truncate)
    };
    if texts.iter().map(String::len).sum::<usize>() <= INLINE_TOKENIZE_BYTES {
        return Ok(run(&s.tokenizer, &texts)?);
    }
    let t = s.tokenizer.clone();
    match tokio::task::spawn_blocking(move || run(&t, &texts)).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("tokenizing failed: {e}"))),
    }
}

/// A handler awaiting its request's vectors.
struct Awaiting {
    tx: tokio::sync::oneshot::Sender<Result<Embeddings, String>>,
    metrics: Arc<Metrics>,
    inputs: usize,
    tokens: u64,
}

impl Reply for Awaiting {
    fn done(self: Box<Self>, done: Done<'_>) {
        let out = done.result.map_err(str::to_string).map(|e| {
            // The batch's size once per batch: by its first request.
            let first = done.rows.start == 0;
            self.metrics.embedded(done.queued, first.then_some(done.formed), self.inputs, self.tokens);
            let values = &e.data[done.rows.start * e.dim..done.rows.end * e.dim];
            Embeddings { rows: done.rows.len(), dim: e.dim, data: values.to_vec() }
        });
        // A client that went away is not the server's error.
        let _ = self.tx.send(out);
    }

    fn cancelled(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Runs `batch` on a replica (never on the reactor) and awaits its vectors.
async fn embed(s: &AppState, batch: TokenizedBatch, tokens: u64) -> Result<Embeddings, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let inputs = batch.batch_size;
    s.server.enqueue(RequestInput::Text(batch), Box::new(Awaiting { tx, metrics: s.metrics.clone(), inputs, tokens }));
    match rx.await {
        Ok(Ok(e)) => Ok(e),
        Ok(Err(message)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message).code("backend_failed")),
        Err(_) => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the replica worker failed").code("backend_failed"))
        }
    }
}

/// `dimensions` checked against what the model gives, before anything runs.
fn check_dims(s: &AppState, dimensions: Option<usize>) -> Result<(), ApiError> {
    match dimensions {
        Some(d) if d == 0 || d > s.dim => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("dimensions {d}: the model gives {} values; ask for 1..={}", s.dim, s.dim),
        )
        .code("invalid_dimensions")),
        _ => Ok(()),
    }
}

/// Matryoshka truncation to `dimensions` (the runner's, as a `embedding_dim` cell
/// cuts), each vector L2-normalised again when `normalize`.
fn truncate_dims(e: Embeddings, dimensions: Option<usize>, normalize: bool) -> Embeddings {
    match dimensions {
        Some(dim) => Truncation { dim, normalize }.apply(e),
        None => e,
    }
}

async fn openai(State(s): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let request: OpenAiRequest = parse(&s, body).await?;
    check_dims(&s, request.dimensions)?;
    let (batch, tokens) = match request.input {
        OpenAiInput::One(text) => tokenize(&s, vec![text], false).await?,
        OpenAiInput::Many(texts) => tokenize(&s, texts, false).await?,
        OpenAiInput::Tokens(ids) => s.tokenizer.ids(&[ids])?,
        OpenAiInput::ManyTokens(rows) => {
            check_count(&s, rows.len())?;
            s.tokenizer.ids(&rows)?
        }
    };
    let vectors = truncate_dims(embed(&s, batch, tokens).await?, request.dimensions, true);
    let base64 = request.encoding_format == Some(EncodingFormat::Base64);
    let data = (0..vectors.rows)
        .map(|i| OpenAiEmbedding {
            object: "embedding".into(),
            index: i,
            embedding: match base64 {
                true => EmbeddingValue::base64_of(vectors.row(i)),
                false => EmbeddingValue::Float(vectors.row(i).to_vec()),
            },
        })
        .collect();
    let response = OpenAiResponse {
        object: "list".into(),
        data,
        model: request.model.unwrap_or_else(|| s.model.clone()),
        usage: Some(Usage { prompt_tokens: tokens, total_tokens: tokens }),
    };
    Ok(Json(response).into_response())
}

async fn tei(State(s): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let request: TeiRequest = parse(&s, body).await.map_err(ApiError::tei)?;
    check_dims(&s, request.dimensions).map_err(ApiError::tei)?;
    if let Some(p) = &request.prompt_name {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("prompt_name '{p}': embench serve applies no prompts (fix: put the prompt in the text)"),
        )
        .tei());
    }
    if let Some(d) = request.truncation_direction.as_deref().filter(|d| !d.eq_ignore_ascii_case("right")) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("truncation_direction '{d}': only 'right' is supported"),
        )
        .tei());
    }
    let texts = match request.inputs {
        TeiInput::One(t) => vec![t],
        TeiInput::Many(v) => v,
    };
    let (batch, tokens) = tokenize(&s, texts, request.truncate.unwrap_or(false)).await.map_err(ApiError::tei)?;
    // normalize: false returns the model's head output as it is (already unit length
    // for a model whose pipeline normalises: nothing here undoes that).
    let normalize = request.normalize.unwrap_or(true);
    let mut vectors = embed(&s, batch, tokens).await.map_err(ApiError::tei)?;
    vectors = truncate_dims(vectors, request.dimensions, normalize);
    if normalize {
        for row in vectors.data.chunks_mut(vectors.dim.max(1)) {
            embench_core::pooling::l2_normalize(row);
        }
    }
    let rows: Vec<&[f32]> = (0..vectors.rows).map(|i| vectors.row(i)).collect();
    Ok(Json(rows).into_response())
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn info(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json((*s.info).clone())
}

async fn metrics(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render()).into_response()
}

const ROUTES: &str = "POST /v1/embeddings, POST /embed, GET /health, GET /info, GET /metrics";

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {method} {}; the routes are {ROUTES}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}; the routes are {ROUTES}", uri.path()),
    )
}
