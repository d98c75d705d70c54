#!/usr/bin/env python3
"""Writes tests/fixtures/all-minilm-l6-v2_reference.json: embeddings of a few fixed
sentences computed with sentence-transformers, the reference the candle parity test
(and later backends) must match (cosine >= 0.9999).

Run once, by hand, in a virtualenv with `sentence-transformers` and `torch`:
    python3 scripts/make_reference_embeddings.py models/all-minilm-l6-v2/pytorch
The fixture is committed; CI does not re-run this script.
"""
import json
import pathlib
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "python"))
from convert_model import PROBES  # noqa: E402  (the same probe sentences as the correctness gate)

# The fixture's five sentences are the first five probes.
SENTENCES = PROBES[:5]


def main() -> None:
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "models/all-minilm-l6-v2/pytorch")
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/all-minilm-l6-v2_reference.json")
    torch.manual_seed(0)
    model = SentenceTransformer(str(folder), device="cpu")
    vectors = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True, normalize_embeddings=False)
    out.write_text(json.dumps({
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "made_with": {
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "script": "scripts/make_reference_embeddings.py",
        },
        "max_seq_length": model.max_seq_length,
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    }, indent=1) + "\n")
    print(f"wrote {out}: {len(SENTENCES)} x {vectors.shape[1]}")


if __name__ == "__main__":
    main()
