#!/usr/bin/env python3
"""`make bench-peers`: embench's ort, openvino and tch backends beside the tools a
user would reach for instead, on the same model files and settings: ONNX Runtime's
Python API, OpenVINO's benchmark_app (from the openvino wheel), and PyTorch in
Python (the TorchScript export, and the eager Hugging Face model). Batch 1 and
32, sequence length 128, 2 threads, one stream, fp32; closed loop, one client.

The machine's speed drifts (shared cloud vCPUs), so the figures are taken in
interleaved rounds (each embench figure right beside its peers', the order flipped
every round) and the table shows each figure's median over the rounds with its
range, and the median of the per-round ratios. Prints a table of sentences/s with
embench/peer ratios and writes it to <out>/peers.md beside embench's run directories,
with every round's figures in <out>/peers.json.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "all-minilm-l6-v2"
SEQ, THREADS, BATCHES = 128, 2, (1, 32)
# Unrecorded warm-up requests before each figure, the same on every side: enough to
# bring ONNX Runtime's arena and OpenVINO's caches to steady state (5 left batch 1
# visibly cold), fewer for batch 32, whose requests are 32 times the work.
WARMUP = {1: 20, 32: 5}


def inputs(batch: int, names: list[str]) -> dict[str, np.ndarray]:
    """Real-looking ids (all 128 positions are tokens, as embench's seq-128 cells are)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, size=(batch, SEQ), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    return {n: feed[n] for n in names}


def python_ort(batch: int, seconds: float) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    sess = ort.InferenceSession(str(MODEL / "onnx" / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    feed = inputs(batch, [i.name for i in sess.get_inputs()])
    for _ in range(WARMUP[batch]):
        sess.run(None, feed)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 10:
        sess.run(None, feed)
        n += 1
    return n * batch / (time.perf_counter() - start)


def python_torch(batch: int, seconds: float, mode: str) -> float:
    """PyTorch in Python: `torchscript` runs the export embench's tch backend loads, `eager`
    sentence-transformers' own pipeline (network, pooling, Normalize) as embench's python-torch does."""
    import torch

    torch.set_num_threads(THREADS)
    if mode == "torchscript":
        model = torch.jit.load(str(MODEL / "torchscript" / "model.pt")).eval()
        names = json.loads((MODEL / "conversion.json").read_text())["inputs"]
        run = lambda feed: model(*(feed[n] for n in names))  # noqa: E731
    else:
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(MODEL / "pytorch"), device="cpu").eval()
        names = ["input_ids", "attention_mask", "token_type_ids"]
        run = lambda feed: st(dict(feed))["sentence_embedding"]  # noqa: E731
    feed = {n: torch.from_numpy(v) for n, v in inputs(batch, names).items()}
    with torch.inference_mode():
        for _ in range(WARMUP[batch]):
            run(feed)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or n < 10:
            run(feed)
            n += 1
    return n * batch / (time.perf_counter() - start)


def benchmark_app(batch: int, seconds: float) -> float:
    tool = pathlib.Path(sys.executable).parent / "benchmark_app"
    shape = ",".join(f"{n}[{batch},{SEQ}]" for n in ("input_ids", "attention_mask", "token_type_ids"))
    cmd = [str(tool), "-m", str(MODEL / "openvino" / "model_fp32.xml"), "-d", "CPU", "-hint", "none",
           "-nthreads", str(THREADS), "-nstreams", "1", "-nireq", "1", "-api", "sync", "-infer_precision", "f32",
           "-data_shape", shape, "-t", str(int(seconds))]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"benchmark_app failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    # Its FPS counts inferences when it cannot tell the batch dimension of a dynamic
    # model, so sentences/s comes from the iteration count and duration it reports.
    count = int(re.search(r"Count:\s+(\d+)\s+iterations", run.stdout).group(1))
    duration_ms = float(re.search(r"Duration:\s+([\d.]+)\s+ms", run.stdout).group(1))
    return count * batch / (duration_ms / 1e3)


BACKENDS = {
    "ort": "",
    "openvino": "    openvino: {performance_hint: latency, streams: 1, infer_requests: 1}\n",
    "tch": "",
}


def embench(binary: str, out: pathlib.Path, seconds: float, backend: str, batch: int) -> float:
    """One embench cell: `backend` at `batch`, about `seconds` of measurement."""
    n = max(50, int(seconds * 40)) if batch == 1 else max(10, int(seconds * 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    config = out.parent / f"{out.name}.yaml"
    config.write_text(f"""models_file: {ROOT / 'configs' / 'models.yaml'}
active_models: [all-minilm-l6-v2]
backends:
  - name: {backend}
    threads: {THREADS}
{BACKENDS[backend]}test_scenarios:
  - {{name: b{batch}, concurrency: 1, num_requests: {n}, batch_size: {batch}}}
input_config:
  sequence_lengths: [{SEQ}]
  warmup_requests: {WARMUP[batch]}
""")
    subprocess.run([binary, "run", "--quiet", "--config", str(config), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    config.unlink()
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return record["embeddings_per_s"]


# Each embench backend and the peers it is compared with.
PAIRS = {
    "ort": {"python-ort": lambda b, s: python_ort(b, s)},
    "openvino": {"benchmark_app": lambda b, s: benchmark_app(b, s)},
    "tch": {
        "python-torch-torchscript": lambda b, s: python_torch(b, s, "torchscript"),
        "python-torch-eager": lambda b, s: python_torch(b, s, "eager"),
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embench", default=str(ROOT / "target" / "debug" / "embench"))
    ap.add_argument("--out", type=pathlib.Path, required=True, help="run directory for embench's cells")
    ap.add_argument("--seconds", type=float, default=8.0, help="measurement time per figure and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows medians")
    ap.add_argument("--backends", nargs="+", choices=list(PAIRS), default=list(PAIRS),
                    help="embench backends to compare (default: all)")
    args = ap.parse_args()

    samples: dict[tuple[str, int], list[float]] = {}
    for i in range(args.rounds):
        for batch in BATCHES:
            for backend, peers in ((b, PAIRS[b]) for b in args.backends):
                # Each embench figure sits right beside its peers', and the order flips every
                # round (ABBA), so a drift of the machine's speed hits both sides alike.
                jobs = [(backend, lambda b=backend: embench(args.embench, args.out / f"round{i + 1}-{b}-b{batch}",
                                                            args.seconds, b, batch))]
                jobs += [(peer, lambda f=f: f(batch, args.seconds)) for peer, f in peers.items()]
                for name, job in (jobs if i % 2 == 0 else jobs[::-1]):
                    samples.setdefault((name, batch), []).append(job())
        print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)

    def cell(key):
        v = sorted(samples[key])
        return float(np.median(v)), f"{np.median(v):.1f} ({v[0]:.1f}–{v[-1]:.1f})"

    lines = [
        f"seq {SEQ}, {THREADS} threads, 1 stream, fp32, one client; sentences/s, median of {args.rounds} "
        "interleaved rounds (range)",
        "",
        "| embench backend | peer | batch | embench | peer | embench / peer (median of per-round ratios) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for batch in BATCHES:
        for backend, peer, name in (("ort", "python-ort", "onnxruntime (Python API)"),
                                    ("openvino", "benchmark_app", "benchmark_app (sync, 1 stream, 1 request)"),
                                    ("tch", "python-torch-torchscript", "PyTorch, TorchScript export"),
                                    ("tch", "python-torch-eager", "PyTorch, eager HF model")):
            if backend not in args.backends:
                continue
            (_, mine_s), (_, theirs_s) = cell((backend, batch)), cell((peer, batch))
            # Each round's embench and peer figures were taken minutes apart at most: their
            # ratio cancels most of the machine's drift, so the median ratio is the estimate.
            ratios = sorted(m / t for m, t in zip(samples[(backend, batch)], samples[(peer, batch)]))
            ratio = f"{np.median(ratios):.3f} ({ratios[0]:.3f}–{ratios[-1]:.3f})"
            lines.append(f"| {backend} | {name} | {batch} | {mine_s} | {theirs_s} | {ratio} |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.md").write_text(table + "\n")
    # Every round's figures, for whoever wants more than the medians.
    rounds = [{"figure": name, "batch": batch, "per_round": figures} for (name, batch), figures in samples.items()]
    (args.out / "peers.json").write_text(json.dumps(rounds, indent=1) + "\n")
    print(f"\nwritten to {args.out / 'peers.md'} (every round's figures: peers.json)")


if __name__ == "__main__":
    main()
