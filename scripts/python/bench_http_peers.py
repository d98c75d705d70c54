#!/usr/bin/env python3
"""`make bench-http-peers`: embench's HTTP side against third-party software, on loopback.

1. **Client vs oha.** `embench serve` with the mock backend at 0 ms is driven by
   embench's `http` backend and by oha (crates.io, `scripts/install_oha.sh`) at the
   same connections (closed loop) and the same fixed rate (open loop, latency from
   the scheduled time: oha's `--latency-correction`), in interleaved rounds (the order
   flipped every round). Prints requests/s, p50 and p99 of each, and embench/oha
   ratios (median over rounds). The closed-loop figures are also the requests/s that
   `embench serve` sustains on this machine with the mock at 0 ms.
2. **The cost of HTTP and a real third-party server.** One embench run with MiniLM on
   ort in-process, the same ort behind `embench serve`, and infinity (PyPI
   `infinity-emb`, `scripts/infinity_server.sh`) serving the same model folder: batch
   1 and 32 at sequence length 128, every cell gated against sentence-transformers.
   Prints the p50 that HTTP adds per request.

Writes <out>/http_peers.md and <out>/http_peers.json beside the run directories.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "configs" / "models.yaml"
MODEL = "all-minilm-l6-v2"
# The one text both clients send in the client comparison (16 tokens with MiniLM's tokenizer).
ORACLE_TEXT = "the quick brown fox jumps over the lazy dog near the river bank today"


def start_serve(embench: str, config: pathlib.Path, backend: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    """`embench serve` on a free port; returns the process and `127.0.0.1:PORT`."""
    proc = subprocess.Popen(
        [embench, "serve", "--config", str(config), "--model", MODEL, "--backend", backend, "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    prefix = "embench serve: listening on http://"
    if not line.startswith(prefix):
        proc.kill()
        sys.exit(f"error: embench serve did not start ({line!r}); its stderr is above")
    return proc, line[len(prefix):]


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    if proc.wait(timeout=60) != 0:
        sys.exit(f"error: embench serve exited {proc.returncode} on SIGTERM")


def serve_config(tmp: pathlib.Path) -> pathlib.Path:
    path = tmp / "serve.yaml"
    path.write_text(
        f"models_file: {MODELS}\nactive_models: [{MODEL}]\nbackends:\n"
        "  - {name: mock, mock: {service_time: {distribution: constant, ms: 0}}}\n"
        "  - {name: mock, label: mock1, mock: {service_time: {distribution: constant, ms: 1}}}\n"
        "  - {name: ort, threads: 2}\n"
        "test_scenarios:\n  - {name: s, concurrency: 1, num_requests: 1, batch_size: 1}\n"
        "input_config:\n  sequence_lengths: [16]\n  warmup_requests: 1\n"
    )
    return path


def embench_client(embench: str, tmp: pathlib.Path, addr: str, scenario: str, name: str) -> dict:
    """One embench run of `scenario` (a YAML flow mapping) through the http backend. The
    served mock's vectors are not a model's, so the client's model is one known only by
    name (no gate) and its dataset is oha's one text: both clients send the same body."""
    (tmp / "models.yaml").write_text("models:\n  remote:\n    max_seq_length: 256\n    embedding_dim: 384\n")
    (tmp / "text.txt").write_text(ORACLE_TEXT + "\n")
    config = tmp / f"{name}.yaml"
    config.write_text(
        "models_file: models.yaml\nactive_models: [remote]\nbackends:\n"
        f"  - {{name: http, http: {{url: 'http://{addr}/v1/embeddings'}}}}\n"
        f"test_scenarios:\n  - {scenario}\n"
        "input_config:\n  sequence_lengths: [natural]\n  warmup_requests: 500\n"
        "dataset:\n  path: text.txt\n"
    )
    out = tmp / f"run-{name}"
    subprocess.run([embench, "run", "-q", "--in-process", "--config", str(config), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    r = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    if not r["valid"]:
        sys.exit(f"error: embench's {name} cell is invalid: {r['invalid_reason']}")
    lat = r["latency_ms"]
    return {"rps": r["qps"], "p50_ms": lat["p50"], "p99_ms": lat["p99"], "requests": r["requests"],
            "client_cpu_us": r["http"]["client_cpu_us_per_request"]}


def oha(oha_bin: str, addr: str, n: int, connections: int, rate: float | None) -> dict:
    body = json.dumps({"input": [ORACLE_TEXT]})
    base = [oha_bin, "--no-tui", "--output-format", "json", "-m", "POST", "-T", "application/json", "-d", body,
            "-c", str(connections), f"http://{addr}/v1/embeddings"]
    subprocess.run([*base[:-1], "-n", "500", base[-1]], check=True, stdout=subprocess.DEVNULL)  # warm-up
    extra = ["-q", str(rate), "--latency-correction"] if rate else []
    before = os.times()
    out = subprocess.run([*base[:-1], "-n", str(n), *extra, base[-1]], check=True, capture_output=True, text=True)
    after = os.times()
    cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    j = json.loads(out.stdout)
    statuses = j.get("statusCodeDistribution", {})
    if set(statuses) != {"200"}:
        sys.exit(f"error: oha got answers other than 200: {statuses}")
    p = j["latencyPercentiles"]
    return {"rps": j["summary"]["requestsPerSec"], "p50_ms": p["p50"] * 1e3, "p99_ms": p["p99"] * 1e3, "requests": n,
            "cpu_us": cpu_s * 1e6 / n}


def rounds_of(args, tmp: pathlib.Path, addr: str, tag: str, open_loop: bool) -> dict:
    """Interleaved rounds of embench's client and oha against `addr`: closed loop at
    `args.connections`, and (`open_loop`) a fixed rate at half the first round's capacity."""
    closed = f"{{name: closed, concurrency: {args.connections}, num_requests: {args.requests}, batch_size: 1}}"
    runs = {"embench closed": [], "oha closed": [], "embench open": [], "oha open": []}
    rate = None
    for k in range(args.rounds):
        order = ["embench", "oha"] if k % 2 == 0 else ["oha", "embench"]
        for who in order:
            if who == "embench":
                runs["embench closed"].append(embench_client(args.embench, tmp, addr, closed, f"{tag}-closed{k}"))
            else:
                runs["oha closed"].append(oha(args.oha, addr, args.requests, args.connections, None))
        if not open_loop:
            continue
        # Half of the first round's closed-loop capacity (the slower client's), as oha's -q takes it.
        rate = rate or round(0.5 * min(runs["embench closed"][0]["rps"], runs["oha closed"][0]["rps"]), -1)
        connections = args.connections * 4
        opened = (f"{{name: open, mode: open_loop, rate_qps: {rate}, arrival: fixed, concurrency: {connections}, "
                  f"num_requests: {args.requests}, batch_size: 1}}")
        for who in order:
            if who == "embench":
                runs["embench open"].append(embench_client(args.embench, tmp, addr, opened, f"{tag}-open{k}"))
            else:
                runs["oha open"].append(oha(args.oha, addr, args.requests, connections, rate))
    return {"rounds": {k: v for k, v in runs.items() if v}, "open_rate": rate}


def client_rounds(args, tmp: pathlib.Path) -> dict:
    """The mock at 1 ms with 4 workers (the server bounds the rate: a like-for-like
    comparison of the clients), then at 0 ms (client and server share the cores: the
    requests/s embench serve sustains here, and what each client's own CPU costs)."""
    config = serve_config(tmp)
    out = {}
    for tag, backend, workers, open_loop in (("mock-1ms", "mock1", "4", True), ("mock-0ms", "mock", "2", False)):
        proc, addr = start_serve(args.embench, config, backend, ["--workers", workers])
        try:
            out[tag] = rounds_of(args, tmp, addr, tag, open_loop)
        finally:
            stop(proc)
    return out


def overhead_and_infinity(args, tmp: pathlib.Path) -> dict:
    """`args.rounds` runs of: ort in-process, the same ort behind embench serve, infinity;
    batch 1 and 32 at seq 128, each cell gated. The backends' order flips every round."""
    serve, addr = start_serve(args.embench, serve_config(tmp), "ort", [])
    infinity_port = "7997"
    backends = ["  - {name: ort, threads: 2}",
                f"  - {{name: http, label: embench-serve-ort, http: {{url: 'http://{addr}/v1/embeddings'}}}}"]
    started = False
    runs = []
    try:
        if not args.no_infinity:
            subprocess.run([str(ROOT / "scripts" / "infinity_server.sh"), "setup"], check=True)
            subprocess.run([str(ROOT / "scripts" / "infinity_server.sh"), "start", str(ROOT / "models" / MODEL),
                            infinity_port], check=True)
            started = True
            backends.append(f"  - {{name: http, label: infinity, http: {{url: 'http://127.0.0.1:{infinity_port}/embeddings', "
                            f"model: {MODEL}}}}}")
        for k in range(args.rounds):
            order = backends if k % 2 == 0 else backends[::-1]
            config = tmp / f"overhead{k}.yaml"
            config.write_text(
                f"models_file: {MODELS}\nactive_models: [{MODEL}]\nbackends:\n" + "\n".join(order) + "\n"
                "test_scenarios:\n"
                "  - {name: batch1, concurrency: 1, num_requests: 300, batch_size: 1, min_duration_s: 5}\n"
                "  - {name: batch32, concurrency: 1, num_requests: 20, batch_size: 32, min_duration_s: 5}\n"
                "input_config:\n  sequence_lengths: [128]\n  warmup_requests: 10\n"
            )
            out = pathlib.Path(args.out) / f"overhead-round{k + 1}"
            subprocess.run([args.embench, "run", "-q", "--config", str(config), "--out", str(out)], check=False)
            subprocess.run([args.embench, "report", str(out)], check=False, stdout=subprocess.DEVNULL)
            cells = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
            runs.append({"run": str(out), "cells": [
                {k2: c.get(k2) for k2 in ("backend", "scenario", "batch_size", "qps", "embeddings_per_s", "min_cosine",
                                          "valid", "invalid_reason")}
                | {"p50_ms": (c["latency_ms"] or {}).get("p50"), "p99_ms": (c["latency_ms"] or {}).get("p99")}
                for c in cells]})
    finally:
        stop(serve)
        if started:
            subprocess.run([str(ROOT / "scripts" / "infinity_server.sh"), "stop", infinity_port], check=False)
    return {"rounds": runs}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embench", default=str(ROOT / "target" / "debug" / "embench"))
    ap.add_argument("--oha", default=str(ROOT / ".tools" / "oha" / "bin" / "oha"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--no-infinity", action="store_true", help="leave infinity out (no pip install)")
    args = ap.parse_args()
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    isa = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags)
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        clients = client_rounds(args, tmp)
        costs = overhead_and_infinity(args, tmp)
    lines = [f"# embench's HTTP side beside oha and infinity (loopback, {os.cpu_count()} CPUs: {isa})", ""]
    ratios = []
    for tag, what in (("mock-1ms", "the mock at 1 ms, 4 workers (the server bounds the rate)"),
                      ("mock-0ms", "the mock at 0 ms, 2 workers (client and server share the cores)")):
        c = clients[tag]
        lines += [f"## Clients against embench serve + {what}: {args.connections} connections, {args.requests} "
                  f"requests, {args.rounds} interleaved rounds (medians)", ""]
        if c["open_rate"]:
            lines += [f"Open loop: {c['open_rate']:.0f} requests/s on a fixed schedule, {args.connections * 4} "
                      "connections, latency from the scheduled time (oha: --latency-correction).", ""]
        lines += ["| mode | client | requests/s | p50 ms | p99 ms | client CPU µs/request |", "|---|---|---|---|---|---|"]
        for mode in ("closed", "open"):
            if f"embench {mode}" not in c["rounds"]:
                continue
            for who in ("embench", "oha"):
                rs = c["rounds"][f"{who} {mode}"]
                cpu = median([r["client_cpu_us"] for r in rs]) if who == "embench" else median([r["cpu_us"] for r in rs])
                lines.append(f"| {mode} | {who} | {median([r['rps'] for r in rs]):.0f} | "
                             f"{median([r['p50_ms'] for r in rs]):.3f} | {median([r['p99_ms'] for r in rs]):.3f} | "
                             f"{cpu:.0f} |")
            e, o = c["rounds"][f"embench {mode}"], c["rounds"][f"oha {mode}"]
            for metric in ("rps", "p50_ms", "p99_ms"):
                ratio = median([a[metric] / b[metric] for a, b in zip(e, o)])
                ratios.append(f"{tag} {mode} {metric}: embench/oha = {ratio:.3f}")
        lines.append("")
    lines += ["Ratios (median of per-round ratios): " + "; ".join(ratios), ""]
    lines += [f"## The cost of HTTP, and infinity: MiniLM, sequence length 128, 2 threads, {args.rounds} rounds "
              "(medians; the backends' order flips every round)", "",
              "Run directories: " + ", ".join(r["run"] for r in costs["rounds"]) + " (each with report.md).", "",
              "| backend | batch | emb/s | p50 ms | p99 ms | min cos | valid in every round |", "|---|---|---|---|---|---|---|"]
    by_cell: dict = {}
    for r in costs["rounds"]:
        for c in r["cells"]:
            by_cell.setdefault((c["backend"], c["batch_size"]), []).append(c)
    for (backend, batch), cs in by_cell.items():
        ok = all(c["valid"] for c in cs)
        lines.append(f"| {backend} | {batch} | {median([c['embeddings_per_s'] or 0 for c in cs]):.1f} | "
                     f"{median([c['p50_ms'] or 0 for c in cs]):.2f} | {median([c['p99_ms'] or 0 for c in cs]):.2f} | "
                     f"{min(c['min_cosine'] or 0 for c in cs):.6f} | {ok} |")
    lines.append("")
    for batch in (1, 32):
        diffs = []
        for r in costs["rounds"]:
            p50 = {(c["backend"], c["batch_size"]): c["p50_ms"] for c in r["cells"]}
            a_, b_ = p50.get(("ort", batch)), p50.get(("embench-serve-ort", batch))
            if a_ and b_:
                diffs.append(b_ - a_)
        if diffs:
            lines.append(f"HTTP adds {median(diffs):.2f} ms to the p50 at batch {batch} (median of the rounds' "
                         f"differences, embench serve + http minus in-process: {', '.join(f'{d:.2f}' for d in diffs)}).")
    text = "\n".join(lines) + "\n"
    (pathlib.Path(args.out) / "http_peers.md").write_text(text)
    (pathlib.Path(args.out) / "http_peers.json").write_text(json.dumps({"clients": clients, "costs": costs}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
