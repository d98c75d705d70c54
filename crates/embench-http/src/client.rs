//! The `http` embedder: each request's texts go to the endpoint as one POST, on a
//! keep-alive connection of the client's pool; the answer is parsed and checked
//! (one vector per text, one dimension) and counted by status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::settings::{HttpApi, HttpOptions};
use embench_core::{BackendInfo, EmbedError, EmbedInput, Embedder, Embeddings, Phase, Precision, TokenizedBatch};
use embench_schema::HttpFigures;
use ureq::unversioned::transport::{Connector, DefaultConnector};

use crate::api::{OpenAiRequestRef, OpenAiResponse, TeiRequestRef};
use crate::wire::{CachedResolver, CountingConnector, WireCounters};

const FRAMEWORK: &str = "http";

/// The largest response body read, bytes (256 MiB: a batch of 1024 vectors of 4096
/// floats as JSON text is about 80 MiB).
const MAX_RESPONSE_BYTES: u64 = 256 << 20;

/// Keep-alive connections kept when `connections` is not set: one per client, up to this.
const DEFAULT_POOL: usize = 1024;

/// An endpoint, called by the load generator's clients.
pub struct HttpEmbedder {
    agent: ureq::Agent,
    options: HttpOptions,
    /// OpenAI's `model` field.
    model: String,
    /// Header names and values, read from the environment at load.
    headers: Vec<(String, String)>,
    info: BackendInfo,
    wire: Arc<WireCounters>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    timeouts: AtomicU64,
    transport_errors: AtomicU64,
    malformed: AtomicU64,
    prompt_tokens: AtomicU64,
    reports_tokens: AtomicU64,
}

impl HttpEmbedder {
    /// A client of `options.url` for the model `model_key`; asks the server's `/info`
    /// (embench serve's and TEI's) what it runs, for the record.
    ///
    /// Errors: a header's environment variable that is not set, or a server that
    /// cannot be reached at all (refused, no such host), at [`Phase::Load`].
    /// `declared` is the config's `precision`: what the server runs, when its `/info` does not say.
    pub fn connect(options: &HttpOptions, model_key: &str, declared: Precision) -> Result<Self, EmbedError> {
        let mut headers = Vec::new();
        for (name, var) in &options.headers_from_env {
            let value = std::env::var(var).map_err(|_| {
                EmbedError::new(
                    FRAMEWORK,
                    Phase::Load,
                    format!("header '{name}' comes from ${var}, which is not set (fix: export {var}=...)"),
                )
            })?;
            headers.push((name.clone(), value));
        }
        let pool = options.connections.unwrap_or(DEFAULT_POOL);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(options.timeout_ms)))
            .max_idle_connections(pool)
            .max_idle_connections_per_host(pool)
            // What the config names is what is measured: no proxy from the environment.
            .proxy(None)
            .user_agent(format!("embench/{}", env!("CARGO_PKG_VERSION")))
            .build();
        let wire = Arc::new(WireCounters::default());
        let connector = DefaultConnector::default().chain(CountingConnector(wire.clone()));
        let agent = ureq::Agent::with_parts(config, connector, CachedResolver::default());
        let server = server_info(&agent, &options.url, &headers)?;
        let mut settings = BTreeMap::from([
            ("url".to_string(), options.url.clone()),
            ("api".to_string(), options.api.name().to_string()),
            ("timeout_ms".to_string(), options.timeout_ms.to_string()),
            ("connections".to_string(), options.connections.map_or("one per client".into(), |c| c.to_string())),
        ]);
        let mut notes = Vec::new();
        if let Some(s) = &server {
            settings.insert("server".into(), s.describe.clone());
        }
        let precision = match server.as_ref().and_then(|s| s.precision) {
            Some(said) if said != declared => {
                notes.push(format!(
                    "the server runs {} (its /info), not the {} the config's precision says",
                    said.as_str(),
                    declared.as_str()
                ));
                said
            }
            Some(said) => said,
            None => {
                notes.push(format!(
                    "the server does not say its precision (no /info that tells): recorded as the config's precision, {}",
                    declared.as_str()
                ));
                declared
            }
        };
        let model = options.model.clone().unwrap_or_else(|| model_key.to_string());
        settings.insert("model".into(), model.clone());
        let info = BackendInfo {
            framework: FRAMEWORK.into(),
            framework_version: format!("ureq {}", crate::UREQ_VERSION),
            device: server.as_ref().and_then(|s| s.device.clone()).unwrap_or_else(|| "server".into()),
            precision,
            intra_op_threads: 0,
            settings,
            notes,
        };
        Ok(Self {
            agent,
            options: options.clone(),
            model,
            headers,
            info,
            wire,
            statuses: Mutex::new(BTreeMap::new()),
            timeouts: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            reports_tokens: AtomicU64::new(0),
        })
    }

    fn err(&self, message: String) -> EmbedError {
        EmbedError::new(FRAMEWORK, Phase::Inference, message)
    }

    /// POSTs `body` and returns the response body of a 2xx answer.
    fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, EmbedError> {
        let mut request = self.agent.post(&self.options.url).header("content-type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let response = request.send(&body[..]).map_err(|e| self.failed(e))?;
        let status = response.status().as_u16();
        let bytes = match response.into_body().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec() {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(limit)) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                return Err(self.err(format!("an answer of more than {limit} bytes from {}", self.options.url)));
            }
            // No whole answer: a timeout or a broken connection, not a status.
            Err(e) => return Err(self.failed(e)),
        };
        *self.statuses.lock().expect("status counts").entry(status).or_insert(0) += 1;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&bytes);
            let text: String = text.chars().take(300).collect();
            return Err(self.err(format!("HTTP {status} from {}: {text}", self.options.url)));
        }
        Ok(bytes)
    }

    /// Counts a request that got no answer, and says why.
    fn failed(&self, e: ureq::Error) -> EmbedError {
        match e {
            ureq::Error::Timeout(what) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                self.err(format!("timed out ({what}) after {} ms (timeout_ms)", self.options.timeout_ms))
            }
            other => {
                self.transport_errors.fetch_add(1, Ordering::Relaxed);
                self.err(format!("{}: {other}", self.options.url))
            }
        }
    }

    /// The vectors of a 2xx `body`, checked: one per text, all of one dimension.
    fn parse(&self, body: &[u8], texts: usize) -> Result<Embeddings, String> {
        let rows: Vec<Vec<f32>> = match self.options.api {
            HttpApi::Tei => serde_json::from_slice(body).map_err(|e| format!("not TEI's answer ([[f32]]): {e}"))?,
            HttpApi::Openai => {
                let r: OpenAiResponse =
                    serde_json::from_slice(body).map_err(|e| format!("not OpenAI's answer ({{data: [...]}}): {e}"))?;
                if let Some(u) = r.usage {
                    self.prompt_tokens.fetch_add(u.prompt_tokens, Ordering::Relaxed);
                    self.reports_tokens.fetch_add(1, Ordering::Relaxed);
                }
                let mut data = r.data;
                data.sort_by_key(|d| d.index);
                if data.iter().enumerate().any(|(i, d)| d.index != i) {
                    return Err("the data's indices are not 0..n".into());
                }
                data.into_iter().map(|d| d.embedding.values()).collect::<Result<_, _>>()?
            }
        };
        if rows.len() != texts {
            return Err(format!("{} vectors for {texts} texts", rows.len()));
        }
        let dim = rows.first().map_or(0, Vec::len);
        if dim == 0 || rows.iter().any(|r| r.len() != dim) {
            return Err("vectors of no or of different dimensions".into());
        }
        Ok(Embeddings { rows: texts, dim, data: rows.concat() })
    }
}

impl Embedder for HttpEmbedder {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn embed(&self, batch: &TokenizedBatch) -> Result<Embeddings, EmbedError> {
        if batch.texts.len() != batch.batch_size {
            return Err(self.err(format!(
                "this request carries {} texts for {} rows: the http backend sends texts, not token ids",
                batch.texts.len(),
                batch.batch_size
            )));
        }
        let body = match self.options.api {
            HttpApi::Openai => serde_json::to_vec(&OpenAiRequestRef { input: &batch.texts, model: &self.model }),
            HttpApi::Tei => serde_json::to_vec(&TeiRequestRef { inputs: &batch.texts }),
        }
        .map_err(|e| self.err(e.to_string()))?;
        let answer = self.post(body)?;
        self.parse(&answer, batch.batch_size).map_err(|why| {
            self.malformed.fetch_add(1, Ordering::Relaxed);
            let text: String = String::from_utf8_lossy(&answer).chars().take(200).collect();
            self.err(format!("malformed answer from {}: {why}; body starts: {text}", self.options.url))
        })
    }

    fn embed_input(&self, input: EmbedInput<'_>) -> Result<Embeddings, EmbedError> {
        match input {
            EmbedInput::Text(batch) => self.embed(batch),
            EmbedInput::Image(_) => {
                Err(self.err("the http backend sends texts; image requests are not supported".into()))
            }
        }
    }

    fn transport(&self) -> Option<HttpFigures> {
        let reports = self.reports_tokens.load(Ordering::Relaxed) > 0;
        Some(HttpFigures {
            url: self.options.url.clone(),
            api: self.options.api.name().into(),
            responses_by_status: self
                .statuses
                .lock()
                .expect("status counts")
                .iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect(),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            transport_errors: self.transport_errors.load(Ordering::Relaxed),
            malformed_bodies: self.malformed.load(Ordering::Relaxed),
            bytes_sent: self.wire.sent.load(Ordering::Relaxed),
            bytes_received: self.wire.received.load(Ordering::Relaxed),
            connections_opened: self.wire.connections.load(Ordering::Relaxed),
            server_prompt_tokens: reports.then(|| self.prompt_tokens.load(Ordering::Relaxed)),
            client_cpu_s: 0.0,
            client_cpu_us_per_request: None,
        })
    }
}

/// What the server says it runs.
struct ServerInfo {
    describe: String,
    device: Option<String>,
    precision: Option<Precision>,
}

/// `GET /info` beside the endpoint: embench serve's (`{backend: BackendInfo, ...}`) or
/// TEI's (`{model_id, version}`). None when the server has no such route.
///
/// Errors: a server that cannot be reached at all (the fix: start it, or correct `url`).
fn server_info(agent: &ureq::Agent, url: &str, headers: &[(String, String)]) -> Result<Option<ServerInfo>, EmbedError> {
    let Some(origin) = origin(url) else { return Ok(None) };
    let mut request = agent.get(format!("{origin}/info"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Io(e)) => {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                format!("cannot reach {origin}: {e} (fix: start the server, or correct 'url')"),
            ))
        }
        Err(e) => {
            return Err(EmbedError::new(
                FRAMEWORK,
                Phase::Load,
                format!("cannot reach {origin}: {e} (fix: check 'url')"),
            ))
        }
    };
    if response.status().as_u16() != 200 {
        return Ok(None);
    }
    let Ok(body) = response.into_body().read_to_vec() else { return Ok(None) };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return Ok(None) };
    if let Some(b) = json.get("backend").and_then(|b| serde_json::from_value::<BackendInfo>(b.clone()).ok()) {
        let label = json.get("label").and_then(|l| l.as_str()).unwrap_or(&b.framework);
        return Ok(Some(ServerInfo {
            describe: format!(
                "embench serve {}: {label} ({} {}), {}, {} intra-op threads",
                json.get("version").and_then(|v| v.as_str()).unwrap_or("?"),
                b.framework,
                b.framework_version,
                b.precision.as_str(),
                b.intra_op_threads
            ),
            device: Some(b.device.clone()),
            precision: Some(b.precision),
        }));
    }
    if let (Some(model), Some(version)) = (json.get("model_id"), json.get("version")) {
        // TEI's /info says the dtype it runs in: float32, float16, bfloat16.
        let dtype = json.get("model_dtype").and_then(|d| d.as_str());
        let precision = match dtype {
            Some("float32") => Some(Precision::Fp32),
            Some("float16") => Some(Precision::Fp16),
            Some("bfloat16") => Some(Precision::Bf16),
            _ => None,
        };
        return Ok(Some(ServerInfo {
            describe: format!(
                "text-embeddings-inference {version}, model {model}, {}",
                dtype.unwrap_or("dtype not said")
            ),
            device: None,
            precision,
        }));
    }
    Ok(None)
}

/// `scheme://host:port` of `url`.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origin_keeps_scheme_host_and_port() {
        assert_eq!(origin("http://127.0.0.1:8080/v1/embeddings").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(origin("https://api.example.com/v1/embeddings").unwrap(), "https://api.example.com");
    }
}
