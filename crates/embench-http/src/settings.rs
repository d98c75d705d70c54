//! The `http` backend's settings as a backend entry gives them (`http: {url:
//! http://127.0.0.1:8080/v1/embeddings, api: openai}`), checked, and resolved into
//! [`HttpOptions`]: the endpoint URL, the API, the timeout and connections, and the
//! environment variables its headers come from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use embench_core::config::{
    BackendSettings, ConfigError, Count, Settings, SettingsBlock, SettingsSource, MAX_CONCURRENCY,
};

/// The default timeout of one request, ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// The embeddings API an `http` endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpApi {
    /// OpenAI's `POST /v1/embeddings`: `{"input": [...], "model": ...}` →
    /// `{"data": [{"embedding": [...]}], "usage": {...}}` (infinity, vLLM, managed services).
    #[default]
    Openai,
    /// Text Embeddings Inference's `POST /embed`: `{"inputs": [...]}` → `[[...], ...]`.
    Tei,
}

impl HttpApi {
    /// The name used in configs and results.
    pub fn name(self) -> &'static str {
        match self {
            HttpApi::Openai => "openai",
            HttpApi::Tei => "tei",
        }
    }
}

/// The `http` block as written.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpBlock {
    /// Required: the endpoint, path included (`http://127.0.0.1:8080/v1/embeddings`, `http://host/embed`).
    #[schemars(required)]
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// `openai` (default: `POST {input, model}`) or `tei` (`POST {inputs}`).
    #[serde(default)]
    #[schemars(with = "Option<HttpApi>")]
    pub api: Option<Spanned<HttpApi>>,
    /// OpenAI's `model` field sent with each request (default: the model's key).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model: Option<Spanned<String>>,
    /// A request without a complete answer by then is a timeout, ms (default 30000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Keep-alive connections kept open (default: one per client).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub connections: Option<Spanned<usize>>,
    /// Extra headers whose values are read from environment variables,
    /// `{Authorization: MY_AUTH_HEADER}` (the variable holds e.g. `Bearer sk-...`; never recorded).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers_from_env: Option<Spanned<BTreeMap<String, String>>>,
}

impl SettingsBlock for HttpBlock {
    const KEY: &'static str = "http";

    fn example() -> String {
        "url: http://127.0.0.1:8080/v1/embeddings".into()
    }
}

/// The `http` backend's settings, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpOptions {
    /// The endpoint, path included (`http://127.0.0.1:8080/v1/embeddings`).
    pub url: String,
    /// The API it speaks.
    pub api: HttpApi,
    /// OpenAI's `model` field (None: the model's key in models.yaml).
    pub model: Option<String>,
    /// A request without a complete answer by then is a timeout, ms.
    pub timeout_ms: u64,
    /// Keep-alive connections kept open (None: one per client).
    pub connections: Option<usize>,
    /// Extra headers, by name: the environment variable each value is read from when
    /// the backend loads (values are never written into configs' echoes or results).
    pub headers_from_env: std::collections::BTreeMap<String, String>,
}

impl BackendSettings for HttpOptions {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings are JSON")
    }
}

/// Reads and checks the entry's `http` block, and the shared keys that make no sense
/// for an endpoint (`threads`, `device: cuda`: the server's own).
///
/// Errors: no `url`, a url that is not an http(s) endpoint with a path, a zero
/// timeout, connections outside `1..=1024`, a header name that is not one or whose
/// environment variable is not set.
pub fn settings(source: &SettingsSource) -> Result<Option<Settings>, Vec<ConfigError>> {
    let block: HttpBlock = source.read()?;
    let mut errors = Vec::new();
    let api = block.api.as_ref().map_or(HttpApi::Openai, |a| a.value);
    let example = match api {
        HttpApi::Openai => "http://127.0.0.1:8080/v1/embeddings",
        HttpApi::Tei => "http://127.0.0.1:8080/embed",
    };
    let url = match &block.url {
        None => {
            let e = source.entry_error("url", "the http backend needs the endpoint's 'url'");
            errors.push(e.fix(format!("add e.g. 'http: {{url: {example}}}'")));
            String::new()
        }
        Some(u) => {
            if let Err(why) = check_url(&u.value) {
                let e = source.at(u, "url", format!("url '{}': {why}", u.value));
                errors.push(e.fix(format!("write the whole endpoint, path included, e.g. '{example}'")));
            }
            u.value.clone()
        }
    };
    let timeout_ms = block.timeout_ms.as_ref().map_or(DEFAULT_TIMEOUT_MS, |t| t.value);
    if let Some(t) = block.timeout_ms.as_ref().filter(|t| t.value == 0) {
        let e = source.at(t, "timeout_ms", "a timeout of 0 ms fails every request");
        errors.push(e.fix(format!("leave it out for {DEFAULT_TIMEOUT_MS} ms, or give a positive number")));
    }
    let connections = block.connections.as_ref().map(|c| c.value);
    if let Some(c) = block.connections.as_ref().filter(|c| c.value == 0 || c.value > MAX_CONCURRENCY) {
        let e = source.at(c, "connections", format!("{} connections is impossible", c.value));
        errors.push(e.fix(format!("use 1..={MAX_CONCURRENCY}, or leave it out for one per client")));
    }
    let mut headers = BTreeMap::new();
    if let Some(h) = &block.headers_from_env {
        for (name, var) in &h.value {
            let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if bad_name {
                let e = source.at(h, "headers_from_env", format!("'{name}' is not an HTTP header name"));
                errors.push(e.fix("use letters, digits and '-', e.g. 'Authorization'"));
            } else if std::env::var_os(var).is_none() {
                let e = source.at(
                    h,
                    "headers_from_env",
                    format!("header '{name}' is read from the environment variable {var}, which is not set"),
                );
                errors.push(e.fix(format!("export {var}=... before running (its value is never recorded)")));
            }
            headers.insert(name.clone(), var.clone());
        }
    }
    let spec = source.spec;
    if let Some(t) = spec.threads.as_ref().filter(|t| t.value != Count::Auto) {
        let e = source.shared_at(t, "threads", "the http backend runs no model: the server's threads are the server's");
        errors.push(e.fix("remove 'threads' from the http backend (set them where the server is configured)"));
    }
    if let Some(d) = spec.device.as_ref().filter(|d| d.value == "cuda") {
        let e = source.shared_at(d, "device", "the http backend runs no model: the server's device is the server's");
        errors.push(e.fix("remove 'device' from the http backend"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(Settings::new(HttpOptions {
        url,
        api,
        model: block.model.map(|m| m.value),
        timeout_ms,
        connections,
        headers_from_env: headers,
    })))
}

/// Why `url` cannot be an embeddings endpoint: not http(s), no host, or no path.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("the scheme is '{}', not http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if matches!(parsed.path(), "" | "/") {
        return Err("it has no path: the endpoint's route is part of the url".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn urls_need_http_a_host_and_a_path() {
        assert!(check_url("http://127.0.0.1:8080/v1/embeddings").is_ok());
        assert!(check_url("https://api.example.com/v1/embeddings").is_ok());
        for (bad, why) in [
            ("ftp://host/embed", "scheme is 'ftp'"),
            ("http://127.0.0.1:8080", "no path"),
            ("http://127.0.0.1:8080/", "no path"),
            ("not a url", "not a URL"),
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
