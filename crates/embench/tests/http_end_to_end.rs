//! `embench serve` and the `http` backend end to end, on loopback: a served backend
//! benchmarked through its endpoint with a passing gate, a server running the wrong
//! model caught by the gate, an endpoint for a model with no local folder, every
//! kind of bad request answered with a JSON error, and a graceful stop.

mod common;

use common::served::{post, raw, Served};
use common::{embench, models_yaml, validate_results, write};
use predicates::str::contains;

/// The served side: MiniLM on ort (one thread) and on the mock.
fn serve_config(dir: &std::path::Path, mock_ms: f64) -> std::path::PathBuf {
    models_yaml(dir);
    write(
        dir,
        "serve.yaml",
        &format!(
            "models_file: models.yaml\nactive_models: [minilm]\nbackends:\n  - {{name: ort, threads: 1}}\n  - {{name: mock, mock: {{service_time: {{distribution: constant, ms: {mock_ms}}}}}}}\ntest_scenarios:\n  - {{name: s, concurrency: 1, num_requests: 1, batch_size: 1}}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n"
        ),
    )
}

/// A client config: the http backends named in `backends` (YAML list items), for `model`.
fn client_config(dir: &std::path::Path, model: &str, backends: &str, lens: &str) -> std::path::PathBuf {
    write(
        dir,
        "client.yaml",
        &format!(
            "models_file: models.yaml\nactive_models: [{model}]\nbackends:\n{backends}test_scenarios:\n  - {{name: closed, concurrency: 2, num_requests: 24, batch_size: 4}}\n  - {{name: open, mode: open_loop, rate_qps: 40, concurrency: 4, num_requests: 40, batch_size: 1}}\ninput_config:\n  sequence_lengths: {lens}\n  warmup_requests: 2\n"
        ),
    )
}

#[test]
fn a_served_backend_benchmarked_through_http_passes_the_gate_and_records_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(&serve_config(dir.path(), 0.0), "minilm", "ort", &["--workers", "2"]);
    let backends = format!(
        "  - {{name: http, http: {{url: '{}'}}}}\n  - {{name: http, label: tei, http: {{api: tei, url: '{}'}}}}\n",
        server.url("/v1/embeddings"),
        server.url("/embed")
    );
    let config = client_config(dir.path(), "minilm", &backends, "[16, natural]");
    let out = dir.path().join("run");
    embench().args(["run", "-q", "--config"]).arg(&config).arg("--out").arg(&out).assert().success();
    let records = validate_results(&out);
    assert_eq!(records.len(), 2 * 2 * 2, "2 backends x 2 scenarios x 2 lengths");
    for r in &records {
        let cell = format!("{} / {} / {}", r["backend"], r["scenario"], r["seq_len"]);
        assert_eq!(r["valid"], true, "{cell}: {}", r["invalid_reason"]);
        // The probe set embedded through the endpoint against sentence-transformers' vectors.
        assert!(r["min_cosine"].as_f64().unwrap() >= 0.999, "{cell}: {}", r["min_cosine"]);
        assert_eq!(r["framework"], "http", "{cell}");
        let server = r["backend_settings"]["server"].as_str().unwrap();
        assert!(server.starts_with("embench serve") && server.contains("onnxruntime"), "{cell}: {server}");
        let http = &r["http"];
        let requests = r["requests"].as_u64().unwrap();
        assert_eq!(http["responses_by_status"]["200"].as_u64(), Some(requests), "{cell}: {http}");
        assert_eq!((http["timeouts"].as_u64(), http["malformed_bodies"].as_u64()), (Some(0), Some(0)), "{cell}");
        assert!(http["bytes_sent"].as_u64().unwrap() > 0 && http["bytes_received"].as_u64().unwrap() > 0, "{cell}");
        if r["seq_len"] == 16 {
            // The texts were cut to 16 tokens with the model's tokenizer; the server counts them again.
            assert_eq!(r["tokens_per_input_mean"], 16.0, "{cell}");
            if r["backend"] == "http" {
                let texts = requests * r["batch_size"].as_u64().unwrap();
                let per_text = http["server_prompt_tokens"].as_u64().unwrap() as f64 / texts as f64;
                assert!((per_text - 16.0).abs() <= 0.5, "{cell}: the server counted {per_text} tokens per text");
            }
        }
        if r["backend"] == "tei" {
            assert!(http["server_prompt_tokens"].is_null(), "{cell}: TEI's API reports no usage");
        }
    }
    let report = common::report(dir.path(), &out);
    assert!(report.contains("### Through HTTP") && report.contains("(openai)") && report.contains("(tei)"), "{report}");
    let metrics = ureq::get(&server.url("/metrics")).call().unwrap().into_body().read_to_string().unwrap();
    assert!(metrics.contains(r#"embench_requests_total{route="/v1/embeddings",status="200"}"#), "{metrics}");
    assert!(metrics.contains("embench_queue_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("embench_formed_batch_inputs_count"), "{metrics}");
    assert!(server.stop().success(), "SIGTERM stops the server with status 0");
}

#[test]
fn a_server_running_another_model_fails_the_gate_and_a_model_without_a_folder_runs_natural() {
    let dir = tempfile::tempdir().unwrap();
    // The mock's vectors are not MiniLM's: the gate must say so.
    let server = Served::start(&serve_config(dir.path(), 0.0), "minilm", "mock", &[]);
    let url = server.url("/v1/embeddings");
    let config = client_config(dir.path(), "minilm", &format!("  - {{name: http, http: {{url: '{url}'}}}}\n"), "[16]");
    let out = dir.path().join("wrong");
    embench().args(["run", "-q", "--config"]).arg(&config).arg("--out").arg(&out).assert().code(1);
    for r in validate_results(&out) {
        assert_eq!(r["valid"], false);
        let why = r["invalid_reason"].as_str().unwrap();
        assert!(why.contains("cosine"), "{why}");
    }
    // A model known only by name: the dataset's texts as they are, once, at natural length, unchecked.
    let models = std::fs::read_to_string(dir.path().join("models.yaml")).unwrap();
    write(dir.path(), "models.yaml", &format!("{models}  remote:\n    max_seq_length: 128\n    embedding_dim: 384\n"));
    let config =
        client_config(dir.path(), "remote", &format!("  - {{name: http, http: {{url: '{url}'}}}}\n"), "[16, 64]");
    let out = dir.path().join("remote");
    embench().args(["run", "-q", "--config"]).arg(&config).arg("--out").arg(&out).assert().success();
    let records = validate_results(&out);
    assert_eq!(records.len(), 2, "one natural cell per scenario, whatever the lengths asked");
    for r in &records {
        assert_eq!(r["seq_len"], "natural");
        assert!(r["min_cosine"].is_null());
        let warnings = r["warnings"].to_string();
        assert!(warnings.contains("correctness not checked") && warnings.contains("no local folder"), "{warnings}");
    }
    assert!(server.stop().success());
}

#[test]
fn bad_requests_get_json_errors_with_the_right_status_and_good_ones_their_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(
        &serve_config(dir.path(), 0.0),
        "minilm",
        "mock",
        &["--max-inputs", "64", "--body-timeout-ms", "300"],
    );
    let addr = server.addr.clone();
    let long = vec!["word"; 2000].join(" ");
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("truncated JSON", "/v1/embeddings", br#"{"input": "#.to_vec(), 400),
        ("invalid UTF-8", "/v1/embeddings", b"{\"input\": \"\xff\xfe\"}".to_vec(), 400),
        ("a number for input", "/v1/embeddings", br#"{"input": 5}"#.to_vec(), 422),
        ("no inputs", "/v1/embeddings", br#"{"input": []}"#.to_vec(), 422),
        ("an empty text", "/v1/embeddings", br#"{"input": ["a", ""]}"#.to_vec(), 422),
        ("an unknown field", "/v1/embeddings", br#"{"input": "a", "temperature": 1}"#.to_vec(), 422),
        ("an id outside the vocabulary", "/v1/embeddings", br#"{"input": [999999999]}"#.to_vec(), 422),
        ("dimensions 0", "/v1/embeddings", br#"{"input": "a", "dimensions": 0}"#.to_vec(), 422),
        ("too many inputs", "/v1/embeddings", format!(r#"{{"input": {:?}}}"#, vec!["a"; 65]).into_bytes(), 413),
        ("too many tokens", "/v1/embeddings", format!(r#"{{"input": "{long}"}}"#).into_bytes(), 413),
        ("too many tokens (TEI)", "/embed", format!(r#"{{"inputs": "{long}"}}"#).into_bytes(), 413),
        ("a body over the limit", "/v1/embeddings", vec![b' '; 3 << 20], 413),
        ("a prompt name (TEI)", "/embed", br#"{"inputs": "a", "prompt_name": "query"}"#.to_vec(), 422),
        ("an unknown route", "/v2/embed", br#"{"inputs": "a"}"#.to_vec(), 404),
        ("truncation asked (TEI)", "/embed", format!(r#"{{"inputs": "{long}", "truncate": true}}"#).into_bytes(), 200),
    ];
    for (what, path, body, expected) in cases {
        let (status, answer) = post(&addr, path, &body);
        assert_eq!(status, expected, "{what}: {answer}");
        let json: serde_json::Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{what}: {e}: {answer}"));
        if expected != 200 {
            let message = json["error"]["message"].as_str().or(json["error"].as_str());
            assert!(message.is_some_and(|m| !m.is_empty()), "{what}: {answer}");
            // OpenAI's shape carries a machine-readable code; TEI's an error_type.
            assert!(json["error"]["code"].is_string() || json["error_type"].is_string(), "{what}: {answer}");
        }
    }
    // A body shorter than its Content-Length, the client's side then closed.
    let (status, answer) = raw(
        &addr,
        b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"input\": \"a\"}",
    );
    assert_eq!(status, 408, "{answer}");
    assert!(answer.contains("not complete"), "{answer}");
    let (status, answer) = raw(&addr, b"GET /v1/embeddings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 405, "{answer}");
    assert!(answer.contains("POST /v1/embeddings"), "{answer}");
    // Well-formed requests: vectors, base64, Matryoshka dimensions, token ids, TEI.
    let (status, answer) = post(&addr, "/v1/embeddings", br#"{"input": ["a b", "c"], "model": "m"}"#);
    assert_eq!(status, 200, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((json["data"].as_array().unwrap().len(), json["model"].as_str()), (2, Some("m")));
    assert_eq!(json["data"][1]["index"], 1);
    assert!(json["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let (_, answer) = post(&addr, "/v1/embeddings", br#"{"input": "a", "encoding_format": "base64", "dimensions": 8}"#);
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let b64 = json["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(b64.len(), 44, "8 f32 values are 32 bytes, 44 characters of base64: {b64}");
    let (status, _) = post(&addr, "/v1/embeddings", br#"{"input": [[101, 2023, 102], [101, 102]]}"#);
    assert_eq!(status, 200);
    let (status, answer) = post(&addr, "/embed", br#"{"inputs": ["a", "b"]}"#);
    assert_eq!(status, 200);
    let rows: Vec<Vec<f32>> = serde_json::from_str(&answer).unwrap();
    let norm: f32 = rows[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "TEI normalises by default: {norm}");
    let info: serde_json::Value =
        serde_json::from_str(&ureq::get(&server.url("/info")).call().unwrap().into_body().read_to_string().unwrap())
            .unwrap();
    assert_eq!((info["model"].as_str(), info["label"].as_str()), (Some("minilm"), Some("mock")));
    assert!(server.stop().success());
}

#[test]
fn sigterm_finishes_the_requests_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(&serve_config(dir.path(), 600.0), "minilm", "mock", &[]);
    let addr = server.addr.clone();
    let in_flight = std::thread::spawn(move || post(&addr, "/v1/embeddings", br#"{"input": "slow"}"#));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let status = server.stop();
    let (code, answer) = in_flight.join().unwrap();
    assert_eq!(code, 200, "the request in flight was answered: {answer}");
    assert!(status.success(), "{status:?}");
}

#[test]
fn http_settings_are_checked_when_the_config_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    for (backend, field, says) in [
        ("{name: http}", "backends[0].http.url", "needs the endpoint's 'url'"),
        ("{name: http, http: {url: 'http://127.0.0.1:8080'}}", "backends[0].http.url", "no path"),
        ("{name: http, http: {url: 'ftp://host/embed'}}", "backends[0].http.url", "scheme is 'ftp'"),
        (
            "{name: http, http: {url: 'http://h/e', timeout_ms: 0}}",
            "backends[0].http.timeout_ms",
            "fails every request",
        ),
        ("{name: http, threads: 4, http: {url: 'http://h/e'}}", "backends[0].threads", "runs no model"),
        (
            "{name: http, http: {url: 'http://h/e', headers_from_env: {Authorization: EMBENCH_TEST_UNSET_VARIABLE}}}",
            "backends[0].http.headers_from_env",
            "EMBENCH_TEST_UNSET_VARIABLE, which is not set",
        ),
        ("{name: ort, http: {url: 'http://h/e'}}", "backends[0].http", "a setting of the http backend"),
        // The flat form of earlier configs is still read, and checked the same way.
        ("{name: http, url: 'ftp://host/embed'}", "backends[0].url", "scheme is 'ftp'"),
        ("{name: ort, url: 'http://h/e'}", "backends[0].url", "a setting of the http backend"),
    ] {
        let config = write(
            dir.path(),
            "bad.yaml",
            &format!("models_file: models.yaml\nactive_models: [minilm]\nbackends:\n  - {backend}\ntest_scenarios:\n  - {{name: s, concurrency: 1, num_requests: 1, batch_size: 1}}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n"),
        );
        embench()
            .arg("validate")
            .arg(&config)
            .assert()
            .code(2)
            .stderr(contains(field))
            .stderr(contains(says))
            .stderr(contains("fix:"));
    }
    // A good flat entry validates, with a warning naming the block form.
    let config = write(
        dir.path(),
        "flat.yaml",
        "models_file: models.yaml\nactive_models: [minilm]\nbackends:\n  - {name: http, url: 'http://h/embed', api: tei}\ntest_scenarios:\n  - {name: s, concurrency: 1, num_requests: 1, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    embench().arg("validate").arg(&config).assert().success().stdout(contains(
        "'url', 'api' beside 'name' is the old flat form, deprecated (fix: write it as 'http: {url: ..., api: ...}')",
    ));
}

fn embedding(answer: &str, i: usize) -> Vec<f32> {
    let json: serde_json::Value = serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let value: embench_http::api::EmbeddingValue =
        serde_json::from_value(json["data"][i]["embedding"].clone()).unwrap();
    value.values().unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
}

#[test]
fn dynamic_batching_answers_each_request_with_its_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--max-batch-size", "8", "--max-wait-us", "50000"];
    let server = Served::start(&serve_config(dir.path(), 0.0), "minilm", "ort", &extra);
    let texts: Vec<String> = (0..8).map(|i| format!("request number {i} asks about topic {}", i * 7)).collect();
    let body = |t: &str| format!(r#"{{"input": ["{t}"]}}"#).into_bytes();
    let alone: Vec<Vec<f32>> =
        texts.iter().map(|t| embedding(&post(&server.addr, "/v1/embeddings", &body(t)).1, 0)).collect();
    let together: Vec<_> = texts
        .iter()
        .map(|t| {
            let (addr, body) = (server.addr.clone(), body(t));
            std::thread::spawn(move || post(&addr, "/v1/embeddings", &body))
        })
        .collect();
    for (i, handle) in together.into_iter().enumerate() {
        let (status, answer) = handle.join().unwrap();
        assert_eq!(status, 200, "{answer}");
        let c = cosine(&embedding(&answer, 0), &alone[i]);
        assert!(c > 0.9999, "request {i} got another request's vector (cosine {c} with its own)");
    }
    let metrics = ureq::get(&server.url("/metrics")).call().unwrap().into_body().read_to_string().unwrap();
    let value = |name: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (inputs, batches) = (value("embench_formed_batch_inputs_sum"), value("embench_formed_batch_inputs_count"));
    assert!(inputs / batches > 1.0, "no batch of more than one request formed: {inputs} inputs in {batches} batches");
    // base64 carries the same values as float.
    let (_, float) = post(&server.addr, "/v1/embeddings", br#"{"input": ["same text"]}"#);
    let (_, b64) = post(&server.addr, "/v1/embeddings", br#"{"input": ["same text"], "encoding_format": "base64"}"#);
    assert_eq!(embedding(&float, 0), embedding(&b64, 0));
    // A request larger than a formed batch is refused, not split.
    let nine = format!(r#"{{"input": {:?}}}"#, vec!["a"; 9]);
    let (status, answer) = post(&server.addr, "/v1/embeddings", nine.as_bytes());
    assert_eq!(status, 413, "{answer}");
    assert!(server.stop().success());
}

#[test]
fn requests_over_max_in_flight_get_429() {
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(&serve_config(dir.path(), 400.0), "minilm", "mock", &["--max-in-flight", "1"]);
    let first = {
        let addr = server.addr.clone();
        std::thread::spawn(move || post(&addr, "/v1/embeddings", br#"{"input": "first"}"#))
    };
    std::thread::sleep(std::time::Duration::from_millis(150));
    let (status, answer) = post(&server.addr, "/v1/embeddings", br#"{"input": "second"}"#);
    assert_eq!(status, 429, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(json["error"]["type"], "rate_limit_error", "{answer}");
    assert_eq!(first.join().unwrap().0, 200);
    assert!(server.stop().success());
}
