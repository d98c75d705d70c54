#!/usr/bin/env python3
"""`make bench-ort-native`: does a language binding cost anything over ONNX Runtime's C++ API?

Runs `configs/ort_native.yaml` (all-MiniLM-L6-v2, sequence length 128, 2 intra-op
threads, one client, batch 1 and 32) backend by backend in interleaved rounds: in
each round ort (Rust, in-process), ort-native (the C++ API in a worker process) and
python-ort (the Python API in a worker process) each run once, in an order rotated
every round, then python-echo (the pipe protocol alone). Every cell of the three is
gated against sentence-transformers (python-echo has no model to gate); an invalid
or skipped cell stops the script.

Prints, and writes to <out>/ort_native.md and <out>/ort_native.json, per batch size:
each backend's embeddings/s and p50 per round, and the medians over rounds of the
per-round ratios ort-native ÷ ort and ort-native ÷ python-ort (> 1: the C++ API is
faster) for throughput and p50 latency (for latency, < 1 means faster).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "ort_native.yaml"
MEASURED = ["ort", "ort-native", "python-ort"]


def run(embench: str, backend: str, out: pathlib.Path) -> list[dict]:
    """One embench run of `backend`'s cells; its records (exits on an invalid cell)."""
    cmd = [embench, "run", "--config", str(CONFIG), "--backend", backend, "--out", str(out), "-q"]
    print("$ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=False)
    results = out / "results.jsonl"
    if not results.is_file():
        sys.exit(f"error: {backend}: embench exited {done.returncode} and wrote no {results} (its stderr is above)")
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    bad = [f"{r['scenario']}: " + (f"SKIPPED: {r['skipped']}" if r.get("skipped") else str(r.get("invalid_reason")))
           for r in records if not r.get("valid") or r.get("skipped")]
    if done.returncode != 0 or bad or not records:
        sys.exit(f"error: {backend}: embench exited {done.returncode}; cells not measured validly: "
                 + ("; ".join(bad) or "none written"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embench", default=str(ROOT / "target" / "debug" / "embench"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # figures[batch][backend] = [(emb/s, p50 ms) per round]
    figures: dict[int, dict[str, list[tuple[float, float]]]] = {}
    hello = {}
    for r in range(args.rounds):
        order = MEASURED[r % len(MEASURED):] + MEASURED[:r % len(MEASURED)] + ["python-echo"]
        for backend in order:
            for rec in run(args.embench, backend, out / f"round{r + 1}" / backend):
                figures.setdefault(rec["batch_size"], {}).setdefault(backend, []).append(
                    (rec["embeddings_per_s"], rec["latency_ms"]["p50"]))
                hello[backend] = rec.get("framework_version")
    lines = ["# ort-native beside ort and python-ort", "",
             f"{args.rounds} interleaved rounds (order rotated each round); all-MiniLM-L6-v2, seq 128, "
             "2 intra-op threads, one client, fp32; every cell valid (gated against sentence-transformers).", ""]
    for backend, version in hello.items():
        lines.append(f"- {backend}: {version}")
    lines.append("")
    summary = {}
    for batch in sorted(figures):
        per = figures[batch]
        lines += [f"## batch {batch}", "", "| backend | emb/s per round | p50 ms per round |", "|---|---|---|"]
        for backend in MEASURED + ["python-echo"]:
            vals = per.get(backend, [])
            lines.append(f"| {backend} | {', '.join(f'{e:.1f}' for e, _ in vals)} | "
                         f"{', '.join(f'{p:.3f}' for _, p in vals)} |")
        lines += ["", "| ratio (median of per-round ratios) | emb/s | p50 |", "|---|---|---|"]
        summary[batch] = {}
        for peer in ("ort", "python-ort"):
            pairs = list(zip(per["ort-native"], per[peer]))
            thr = statistics.median(n[0] / p[0] for n, p in pairs)
            lat = statistics.median(n[1] / p[1] for n, p in pairs)
            summary[batch][f"ort-native/{peer}"] = {"emb_per_s": thr, "p50": lat}
            lines.append(f"| ort-native ÷ {peer} | {thr:.3f} | {lat:.3f} |")
        echo = statistics.median(p for _, p in per.get("python-echo", [(0.0, 0.0)]))
        summary[batch]["python_echo_p50_ms"] = echo
        lines += ["", f"python-echo (the pipe protocol alone) p50: {echo:.3f} ms.", ""]
    text = "\n".join(lines)
    print(text)
    (out / "ort_native.md").write_text(text + "\n")
    (out / "ort_native.json").write_text(json.dumps({"figures": figures, "ratios": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
