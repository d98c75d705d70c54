#!/usr/bin/env python3
"""Writes the correctness gate's reference embeddings of a converted model folder:
the probe set embedded by sentence-transformers itself (`SentenceTransformer(folder)
.encode`: the folder's whole pipeline, its pooling, Dense layers and Normalize, run by
the tool users use, not by a re-implementation of embench's), one file per sequence length.

    <root>/reference.json           natural length: the probes, each truncated at max_seq_length
    <root>/references/seq_<N>.json  exactly N tokens: the probes (padded to N by embench, truncated
                                    at N) and as many long texts made of them (truncated at N)
    <root>/references/prompt-<name>/natural.json, seq_<N>.json
                                    the same with the model's prompt <name> before every text
                                    (`encode(..., prompt_name=name)`; the prompt's tokens count in N)

embench's gate tokenizes the stored texts with the same tokenizer.json at the
cell's length and batch size, so a backend is compared with PyTorch on the
texts, truncation and padding its cell used.

    python make_references.py models/<key> --max-length 256 --seq-lens 16 128 512
    python make_references.py models/<key> --max-length 512 --natural --seq-lens 32 --prompt-name query

convert_model.py calls this for the usual lengths; `embench run` calls it (embedded
in the binary) for a length a config uses that has no file yet. Writes each file
through a temporary name and a rename, so concurrent runs never read half a file.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

import numpy as np
import torch

# The probe set: short, long, punctuation, a single character, non-ASCII.
PROBES = [
    "The quick brown fox jumps over the lazy dog.",
    "Embedding models map text to dense vectors for semantic search.",
    "How do I pick an inference runtime for production?",
    "a",
    "Rust and ONNX Runtime, OpenVINO, libtorch and candle are compared here on the same inputs, "
    "with the same tokenizer, the same pooling and the same normalisation, so that only the "
    "framework differs between the measured numbers.",
    "Café prices in Zürich rose 3.5% in 2024 — see https://example.com/report?id=42.",
    "What is the capital of France? Paris is the capital and most populous city of France.",
    "def embed(texts): return model.encode(texts, normalize_embeddings=True)",
]
# Fixed lengths the converter writes up front (each at most the model's positions).
DEFAULT_SEQ_LENS = [8, 16, 32, 64, 128, 256, 512]
# The image probe set (multimodal models): (width, height) of each seeded photo-like
# image: landscape, portrait, odd sizes, a tiny one the processors upscale, square, wide.
IMAGE_PROBE_SIZES = [(640, 480), (480, 640), (97, 61), (33, 33), (20, 14), (256, 256), (300, 120), (64, 64)]
IMAGE_PROBE_SEED = 20261129


def fail(msg: str, fix: str) -> None:
    print(f"error: {msg}\nfix: {fix}", file=sys.stderr)
    sys.exit(1)


def hf_dir(root: pathlib.Path) -> pathlib.Path:
    nested = root / "pytorch"
    return nested if (nested / "config.json").is_file() or not (root / "config.json").is_file() else root


KNOWN_MODULES = ("Transformer", "Pooling", "Dense", "Normalize")


def pooling_of(folder: pathlib.Path) -> tuple[str, bool]:
    """The folder's sentence-transformers pooling (mean, cls or lasttoken) and whether it normalises.

    Reads both layouts: `pooling_mode_*` flags and sentence-transformers 6's
    `pooling_mode`; module types by their class name (`...models.Normalize` and
    `...base.modules.normalize.Normalize` alike). A mode or module embench does not
    run is an error, never a default.
    """
    kind = "mean"
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        cfg = json.loads(pooling.read_text())
        mode = cfg.get("pooling_mode")
        if mode is not None:
            modes = [mode] if isinstance(mode, str) else list(mode)
        else:
            modes = [k[len("pooling_mode_"):] for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True]
        names = {"cls_token": "cls", "mean_tokens": "mean", "lasttoken": "lasttoken"}
        modes = [names.get(m, m) for m in modes]
        if modes not in (["cls"], ["mean"], ["lasttoken"]):
            fail(f"{pooling}: pooling mode {modes} is not one embench runs yet (cls, mean, lasttoken)",
                 "benchmark a model with cls, mean or last-token pooling")
        kind = modes[0]
    normalize = False
    modules = folder / "modules.json"
    if modules.is_file():
        classes = [m.get("type", "").rsplit(".", 1)[-1] for m in json.loads(modules.read_text())]
        unknown = [c for c in classes if c not in KNOWN_MODULES]
        if unknown:
            fail(f"{modules}: modules {unknown} are not ones embench runs yet ({', '.join(KNOWN_MODULES)})",
                 "benchmark a model whose pipeline embench runs")
        normalize = "Normalize" in classes
    return kind, normalize


def long_texts(tokenizer, n: int) -> list[str]:
    """One text per probe that runs past n tokens (special tokens included): the probes in turn from it."""
    out = []
    for i in range(len(PROBES)):
        parts, k = [], i
        while len(tokenizer(" ".join(parts), verbose=False)["input_ids"]) <= n:
            parts.append(PROBES[k % len(PROBES)])
            k += 1
        out.append(" ".join(parts))
    return out


def embed(st, texts: list[str], max_length: int, prompt_name: str | None) -> np.ndarray:
    """sentence-transformers' vectors of `texts` (after the prompt `prompt_name`, if any),
    each truncated at `max_length` tokens."""
    st.max_seq_length = max_length
    with torch.inference_mode():
        vectors = st.encode(texts, batch_size=8, convert_to_numpy=True, show_progress_bar=False,
                            prompt_name=prompt_name)
    return vectors.astype(np.float32)


def probe_image(i: int, width: int, height: int):
    """Probe image `i`: a seeded "photo-like" RGB image (a smooth two-colour gradient, a few
    soft-edged ellipses and rectangles, mild noise), never flat colours, so that resizing,
    cropping and normalisation all move real values."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(IMAGE_PROBE_SEED + i)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x /= max(width - 1, 1)
    y /= max(height - 1, 1)
    start, end = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    t = np.cos(angle) * x + np.sin(angle) * y
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    gradient = start * (1 - t[..., None]) + end * t[..., None]
    img = Image.fromarray(np.clip(gradient, 0, 255).astype(np.uint8), "RGB")
    blur = ImageFilter.GaussianBlur(max(1.0, min(width, height) / 40))
    for _ in range(int(rng.integers(2, 5))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.1, 0.4) * min(width, height) + 1
        box = [cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r * rng.uniform(0.5, 1.5)]
        colour = tuple(int(v) for v in rng.uniform(0, 255, 3))
        shape, mask = Image.new("RGB", (width, height), colour), Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask)
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=255)
        img = Image.composite(shape, img, mask.filter(blur))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


def probe_images() -> list:
    """The image probe set: one seeded PIL image per IMAGE_PROBE_SIZES entry."""
    return [probe_image(i, w, h) for i, (w, h) in enumerate(IMAGE_PROBE_SIZES)]


def write_json(path: pathlib.Path, body: dict) -> None:
    """Writes `body` through a temporary name and a rename (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    os.replace(tmp, path)


def write_set(path: pathlib.Path, root: pathlib.Path, texts: list[str], vectors: np.ndarray, seq_len: int | None,
              kind: str, normalize: bool, max_length: int, prompt: tuple[str, str] | None = None,
              made_with: dict | None = None) -> None:
    """Writes one reference set; `made_with` replaces the sentence-transformers record
    (a multimodal model's text tower is embedded by transformers itself)."""
    import transformers

    if made_with is None:
        import sentence_transformers

        made_with = {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__,
                     "script": "scripts/python/make_references.py", "pooling": kind, "normalize": normalize}
    body = {
        "model": root.name,
        "made_with": made_with,
        "max_seq_length": max_length,
        "seq_len": seq_len,
        # The sentences are stored without the prompt: embench puts it before each, as here.
        "prompt_name": prompt[0] if prompt else None,
        "prompt": prompt[1] if prompt else None,
        "sentences": texts,
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    }
    write_json(path, body)


def usable_positions(config: dict) -> int | None:
    """Rows of the position table a real token can use (RoBERTa's family skip pad_token_id + 1)."""
    # CLIP and SigLIP keep the text tower's table in text_config.
    rows = config.get("max_position_embeddings", (config.get("text_config") or {}).get("max_position_embeddings"))
    if rows is None:
        return None
    if config.get("model_type") in ("roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text",
                                    "longformer", "mpnet"):
        return rows - (config.get("pad_token_id", 1) + 1)
    return rows


def prompt_dir(name: str) -> str:
    """references/prompt-<name>, as embench's ModelFolder::references_dir names it."""
    return "prompt-" + "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)


def write_references(root: pathlib.Path, max_length: int, seq_lens: list[int], natural: bool,
                     prompt_name: str | None = None) -> list[str]:
    """Writes the natural-length set (when `natural`) and one per length in `seq_lens`,
    with the model's prompt `prompt_name` before every text (None: no prompt);
    returns the paths written, relative to `root`."""
    from sentence_transformers import SentenceTransformer

    # The folder's pipeline must be one embench runs (else the gate would compare
    # with a pipeline no backend computes): fails on an unknown mode or module.
    kind, normalize = pooling_of(hf_dir(root))
    torch.manual_seed(0)
    st = SentenceTransformer(str(hf_dir(root)), device="cpu")
    prompt = None
    if prompt_name is not None:
        if prompt_name not in st.prompts:
            fail(f"{hf_dir(root)}/config_sentence_transformers.json has no prompt '{prompt_name}' "
                 f"(it has: {', '.join(st.prompts) or 'none'})", "name one of the model's prompts")
        prompt = (prompt_name, st.prompts[prompt_name])
    base = f"references/{prompt_dir(prompt_name)}/" if prompt_name else "references/"
    tokenizer = st.tokenizer
    written = []
    if natural:
        rel = f"{base}natural.json" if prompt_name else "reference.json"
        vectors = embed(st, PROBES, max_length, prompt_name)
        write_set(root / rel, root, PROBES, vectors, None, kind, normalize, max_length, prompt)
        written.append(rel)
    for n in seq_lens:
        texts = PROBES + long_texts(tokenizer, n)
        vectors = embed(st, texts, n, prompt_name)
        rel = f"{base}seq_{n}.json"
        write_set(root / rel, root, texts, vectors, n, kind, normalize, max_length, prompt)
        written.append(rel)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>: holds pytorch/ (the Hugging Face folder)")
    ap.add_argument("--max-length", type=int, default=256, help="max_seq_length of the model (models.yaml)")
    ap.add_argument("--seq-lens", type=int, nargs="*", default=[], help="fixed lengths to write")
    ap.add_argument("--natural", action="store_true", help="also write the natural-length set")
    ap.add_argument("--prompt-name", default=None,
                    help="the model's prompt (config_sentence_transformers.json) before every text")
    args = ap.parse_args()
    root = args.root.resolve()
    hf = hf_dir(root)
    if not (hf / "config.json").is_file():
        fail(f"{hf}/config.json does not exist", "scripts/convert_models.sh <key> fetches and converts the model")
    positions = usable_positions(json.loads((hf / "config.json").read_text()))
    too_long = [n for n in args.seq_lens if positions is not None and n > positions]
    if too_long:
        fail(f"seq {too_long} is over the model's {positions} positions", f"use lengths of at most {positions}")
    written = write_references(root, args.max_length, args.seq_lens, args.natural, args.prompt_name)
    print(f"reference embeddings: {', '.join(written)} in {root}")


if __name__ == "__main__":
    main()
