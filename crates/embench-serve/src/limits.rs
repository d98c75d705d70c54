//! What one request may ask of the server, and how a request over a limit is answered.

/// Per-request limits; each breach is a JSON error with its own status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request body, bytes (413 above; TEI's default payload limit is 2 MB).
    pub max_body_bytes: usize,
    /// Inputs in one request (413 above; OpenAI allows 2048, TEI's client batch 32).
    pub max_inputs: usize,
    /// Requests in the server at once (429 above, as TEI's `max_concurrent_requests`).
    pub max_in_flight: usize,
    /// A body not complete this long after its headers is refused (408): a client
    /// that stalls or sent less than its Content-Length holds nothing for long.
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 << 20,
            max_inputs: 512,
            max_in_flight: 512,
            body_timeout: std::time::Duration::from_secs(10),
        }
    }
}
