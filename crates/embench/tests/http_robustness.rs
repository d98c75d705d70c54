//! `embench serve` under garbage: 10 000 requests of which 1 % are malformed (bad
//! JSON, wrong types, empty input, a 10 MB body, invalid UTF-8, a truncated body, a
//! client gone mid-request) while well-formed requests run. The server must not
//! crash, must answer every bad request it can read with a 4xx JSON error, and every
//! good one with its vectors. The good requests' p99 is printed beside a clean run's
//! (`cargo test --test http_robustness -- --nocapture`); timing is not asserted here.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::served::{post, Served};
use common::{models_yaml, write};

const TOTAL: usize = 10_000;
/// One request in a hundred is garbage.
const GARBAGE: usize = TOTAL / 100;
const GOOD_CLIENTS: usize = 4;

/// `n` well-formed requests from `GOOD_CLIENTS` keep-alive clients; every latency.
fn good_requests(url: &str, n: usize) -> Vec<Duration> {
    let per_client = n / GOOD_CLIENTS;
    let clients: Vec<_> = (0..GOOD_CLIENTS)
        .map(|c| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                (0..per_client)
                    .map(|i| {
                        let body = format!(r#"{{"input": ["client {c} request {i} asks for a vector"]}}"#);
                        let start = Instant::now();
                        let mut response =
                            agent.post(&url).content_type("application/json").send(body.as_str()).unwrap();
                        let text = response.body_mut().read_to_string().unwrap();
                        let took = start.elapsed();
                        assert_eq!(response.status().as_u16(), 200, "{text}");
                        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                        assert_eq!(json["data"][0]["embedding"].as_array().unwrap().len(), 384);
                        took
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    clients.into_iter().flat_map(|c| c.join().unwrap()).collect()
}

fn p99_ms(mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    latencies[(latencies.len() * 99).div_ceil(100) - 1].as_secs_f64() * 1e3
}

/// Garbage request `k`: its kind, and the answer (None: a client that leaves without reading).
fn garbage(addr: &str, k: usize) -> (&'static str, Option<(u16, String)>) {
    let path = "/v1/embeddings";
    match k % 7 {
        0 => ("invalid JSON", Some(post(addr, path, b"{\"input\": [\"a\",, ]}"))),
        1 => ("wrong types", Some(post(addr, path, br#"{"input": {"text": 1}, "dimensions": "many"}"#))),
        2 => ("empty input", Some(post(addr, path, br#"{"input": []}"#))),
        3 => ("a 10 MB body", Some(post(addr, path, &vec![b'['; 10 << 20]))),
        4 => ("invalid UTF-8", Some(post(addr, path, b"{\"input\": \"caf\xc3\x28\"}"))),
        5 => (
            "a truncated body",
            Some(common::served::raw(
                addr,
                b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"inputs\": [\"a",
            )),
        ),
        _ => {
            // Headers and half a body, then gone.
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.write_all(
                b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n{\"input\": [\"half",
            );
            drop(s);
            ("a client that disconnects mid-request", None)
        }
    }
}

#[test]
fn garbage_among_good_requests_crashes_nothing_and_gets_json_4xx() {
    let dir = tempfile::tempdir().unwrap();
    models_yaml(dir.path());
    let config = write(
        dir.path(),
        "serve.yaml",
        "models_file: models.yaml\nactive_models: [minilm]\nbackends:\n  - {name: mock, mock: {service_time: {distribution: constant, ms: 0}}}\ntest_scenarios:\n  - {name: s, concurrency: 1, num_requests: 1, batch_size: 1}\ninput_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n",
    );
    let mut server = Served::start(&config, "minilm", "mock", &["--workers", "2", "--body-timeout-ms", "300"]);
    let url = server.url("/v1/embeddings");
    let clean = p99_ms(good_requests(&url, TOTAL - GARBAGE));

    let addr = server.addr.clone();
    let bad = std::thread::spawn(move || {
        (0..GARBAGE)
            .map(|k| {
                std::thread::sleep(Duration::from_millis(5));
                garbage(&addr, k)
            })
            .collect::<Vec<_>>()
    });
    let mixed = p99_ms(good_requests(&url, TOTAL - GARBAGE));
    let answers = bad.join().unwrap();
    // A second clean run after it: the spread of the two clean runs is the noise.
    let clean_again = p99_ms(good_requests(&url, TOTAL - GARBAGE));
    let mut refused = 0;
    for (what, answer) in &answers {
        let Some((status, body)) = answer else { continue };
        assert!((400..500).contains(status), "{what}: {status} {body}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
        assert!(json["error"]["message"].as_str().or(json["error"].as_str()).is_some(), "{what}: {body}");
        refused += 1;
    }
    assert!(server.alive(), "the server crashed");
    assert_eq!(ureq::get(&server.url("/health")).call().unwrap().status().as_u16(), 200);
    println!(
        "robustness: {} good requests answered 200 in each run, {refused} bad answered 4xx + JSON, {} left mid-request; good requests' p99: clean {clean:.2} ms, with garbage {mixed:.2} ms, clean again {clean_again:.2} ms ({GOOD_CLIENTS} keep-alive clients, mock backend at 0 ms)",
        TOTAL - GARBAGE,
        answers.len() - refused,
    );
    assert!(server.stop().success());
}
