//! Validation of the `http` backend's settings: the endpoint URL, the API, the
//! timeout and connections, and the environment variables its headers come from.

use std::collections::BTreeMap;

use super::{Validator, MAX_CONCURRENCY};
use crate::config::backend_options::{HttpApi, HttpOptions};
use crate::config::benchmark::BackendSpec;
use crate::config::execution::Count;

/// The default timeout of one request, ms.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

impl Validator<'_> {
    pub(super) fn http_options(&mut self, i: usize, spec: &BackendSpec) -> HttpOptions {
        let field = |f: &str| format!("backends[{i}].{f}");
        let api = spec.api.as_ref().map_or(HttpApi::Openai, |a| a.value);
        let example = match api {
            HttpApi::Openai => "http://127.0.0.1:8080/v1/embeddings",
            HttpApi::Tei => "http://127.0.0.1:8080/embed",
        };
        let url = match &spec.url {
            None => {
                let e = self.at(&spec.name, field("url"), "the http backend needs the endpoint's 'url'");
                self.err(e.fix(format!("add e.g. 'url: {example}'")));
                String::new()
            }
            Some(u) => {
                if let Err(why) = check_url(&u.value) {
                    let e = self.at(u, field("url"), format!("url '{}': {why}", u.value));
                    self.err(e.fix(format!("write the whole endpoint, path included, e.g. '{example}'")));
                }
                u.value.clone()
            }
        };
        let timeout_ms = spec.timeout_ms.as_ref().map_or(DEFAULT_TIMEOUT_MS, |t| t.value);
        if let Some(t) = spec.timeout_ms.as_ref().filter(|t| t.value == 0) {
            let e = self.at(t, field("timeout_ms"), "a timeout of 0 ms fails every request");
            self.err(e.fix(format!("leave it out for {DEFAULT_TIMEOUT_MS} ms, or give a positive number")));
        }
        let connections = spec.connections.as_ref().map(|c| c.value);
        if let Some(c) = spec.connections.as_ref().filter(|c| c.value == 0 || c.value > MAX_CONCURRENCY) {
            let e = self.at(c, field("connections"), format!("{} connections is impossible", c.value));
            self.err(e.fix(format!("use 1..={MAX_CONCURRENCY}, or leave it out for one per client")));
        }
        let mut headers = BTreeMap::new();
        if let Some(h) = &spec.headers_from_env {
            for (name, var) in &h.value {
                let bad_name =
                    name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                if bad_name {
                    let e = self.at(h, field("headers_from_env"), format!("'{name}' is not an HTTP header name"));
                    self.err(e.fix("use letters, digits and '-', e.g. 'Authorization'"));
                } else if std::env::var_os(var).is_none() {
                    let e = self.at(
                        h,
                        field("headers_from_env"),
                        format!("header '{name}' is read from the environment variable {var}, which is not set"),
                    );
                    self.err(e.fix(format!("export {var}=... before running (its value is never recorded)")));
                }
                headers.insert(name.clone(), var.clone());
            }
        }
        if let Some(t) = spec.threads.as_ref().filter(|t| t.value != Count::Auto) {
            let e =
                self.at(t, field("threads"), "the http backend runs no model: the server's threads are the server's");
            self.err(e.fix("remove 'threads' from the http backend (set them where the server is configured)"));
        }
        if spec.device.as_ref().is_some_and(|d| d.value == "cuda") {
            let e = self.at(
                &spec.name,
                field("device"),
                "the http backend runs no model: the server's device is the server's",
            );
            self.err(e.fix("remove 'device' from the http backend"));
        }
        HttpOptions {
            url,
            api,
            model: spec.model.as_ref().map(|m| m.value.clone()),
            timeout_ms,
            connections,
            headers_from_env: headers,
        }
    }
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
