//! What an `http` cell's client saw on the wire, over the measured phase.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Client-side figures of an `http` cell: the endpoint's answers, the bytes and
/// connections it took, and the load generator's own CPU time. Counters cover the
/// measured phase only (the SLO search's probes included), not the warm-up or gate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpFigures {
    /// The endpoint (`http://127.0.0.1:8080/v1/embeddings`); headers are never recorded.
    pub url: String,
    /// The API spoken: `openai` or `tei`.
    pub api: String,
    /// Responses by HTTP status (`"200": 5000`).
    #[serde(default)]
    pub responses_by_status: BTreeMap<String, u64>,
    /// Requests that got no answer within `timeout_ms`.
    #[serde(default)]
    pub timeouts: u64,
    /// Requests that failed before an answer for another reason (refused, reset, bad TLS).
    #[serde(default)]
    pub transport_errors: u64,
    /// 2xx responses whose body was not the API's answer (bad JSON, wrong count or dimension).
    #[serde(default)]
    pub malformed_bodies: u64,
    /// HTTP bytes sent: request lines, headers and bodies (before TLS).
    #[serde(default)]
    pub bytes_sent: u64,
    /// HTTP bytes received: status lines, headers and bodies (before TLS).
    #[serde(default)]
    pub bytes_received: u64,
    /// TCP connections the client opened (keep-alive reuses them; more than
    /// `connections` means the pool churned).
    #[serde(default)]
    pub connections_opened: u64,
    /// Prompt tokens the server reported (OpenAI's `usage.prompt_tokens`), summed
    /// (None: the API does not report them).
    #[serde(default)]
    pub server_prompt_tokens: Option<u64>,
    /// CPU time of the embench process (the load generator and its HTTP client:
    /// user + system, `getrusage`) over the measured phase, s.
    #[serde(default)]
    pub client_cpu_s: f64,
    /// `client_cpu_s` per completed request, µs.
    #[serde(default)]
    pub client_cpu_us_per_request: Option<f64>,
}

impl HttpFigures {
    /// The counters gathered between `before` and `self` (both cumulative
    /// snapshots of one client); `url` and `api` are `self`'s.
    pub fn since(&self, before: &HttpFigures) -> HttpFigures {
        let mut statuses = self.responses_by_status.clone();
        for (status, n) in &before.responses_by_status {
            if let Some(now) = statuses.get_mut(status) {
                *now = now.saturating_sub(*n);
            }
        }
        statuses.retain(|_, n| *n > 0);
        HttpFigures {
            url: self.url.clone(),
            api: self.api.clone(),
            responses_by_status: statuses,
            timeouts: self.timeouts.saturating_sub(before.timeouts),
            transport_errors: self.transport_errors.saturating_sub(before.transport_errors),
            malformed_bodies: self.malformed_bodies.saturating_sub(before.malformed_bodies),
            bytes_sent: self.bytes_sent.saturating_sub(before.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(before.bytes_received),
            connections_opened: self.connections_opened.saturating_sub(before.connections_opened),
            server_prompt_tokens: self
                .server_prompt_tokens
                .map(|n| n.saturating_sub(before.server_prompt_tokens.unwrap_or(0))),
            client_cpu_s: self.client_cpu_s - before.client_cpu_s,
            client_cpu_us_per_request: None,
        }
    }

    /// The sum of several clients' counters (replicas of one cell).
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a HttpFigures>) -> Option<HttpFigures> {
        let mut all = all.into_iter();
        let mut total = all.next()?.clone();
        for f in all {
            for (status, n) in &f.responses_by_status {
                *total.responses_by_status.entry(status.clone()).or_insert(0) += n;
            }
            total.timeouts += f.timeouts;
            total.transport_errors += f.transport_errors;
            total.malformed_bodies += f.malformed_bodies;
            total.bytes_sent += f.bytes_sent;
            total.bytes_received += f.bytes_received;
            total.connections_opened += f.connections_opened;
            total.server_prompt_tokens = match (total.server_prompt_tokens, f.server_prompt_tokens) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_every_counter_and_drops_statuses_not_seen_in_between() {
        let before = HttpFigures {
            responses_by_status: [("200".to_string(), 5), ("503".to_string(), 1)].into(),
            timeouts: 1,
            bytes_sent: 100,
            server_prompt_tokens: Some(10),
            client_cpu_s: 0.5,
            ..Default::default()
        };
        let after = HttpFigures {
            url: "u".into(),
            responses_by_status: [("200".to_string(), 9), ("503".to_string(), 1)].into(),
            timeouts: 3,
            bytes_sent: 250,
            server_prompt_tokens: Some(30),
            client_cpu_s: 1.5,
            ..Default::default()
        };
        let d = after.since(&before);
        assert_eq!(d.responses_by_status, [("200".to_string(), 4)].into());
        assert_eq!((d.timeouts, d.bytes_sent, d.server_prompt_tokens), (2, 150, Some(20)));
        assert_eq!((d.url.as_str(), d.client_cpu_s), ("u", 1.0));
        let both = HttpFigures::sum([&d, &d]).unwrap();
        assert_eq!((both.responses_by_status["200"], both.server_prompt_tokens), (8, Some(40)));
    }
}
