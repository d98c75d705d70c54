#!/usr/bin/env python3
"""The int8 TorchScript of a text model, for `precision: int8` on tch and on python-torch's
TorchScript mode: PyTorch's dynamic quantisation of the Linear layers
(`torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
dtype=torch.qint8)`: int8 weights per output channel, as ONNX Runtime's variant has them;
activations quantised per batch at run time; fbgemm/x86 kernels) applied
to the same sentence-transformers pipeline convert_model.py traces, then traced.

    <root>/torchscript/model_int8.pt     the traced quantised module (inputs as model.pt's)
    <root>/torchscript/variants.json     tool and versions, the quantised operators of the
                                         traced graph, its sha256 and the sha256 of the
                                         pytorch/model.safetensors it came from (stale when
                                         that changes: embench refuses it)

python-torch's eager mode quantises the same way at load time (embench_worker.py).

    python quantize_torch.py models/<key> [--force]

Called by scripts/convert_models.sh (text models).
"""
from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from quantize_onnx import write_record  # noqa: E402
from retrieval_corpus import fail, sha256  # noqa: E402

# Bump when the recipe changes.
QUANTIZER_VERSION = 2
FILE = "model_int8.pt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>, converted (conversion.json, pytorch/)")
    ap.add_argument("--force", action="store_true", help="make it even when up to date")
    args = ap.parse_args()
    root = args.root
    ts_dir = root / "torchscript"
    weights = root / "pytorch" / "model.safetensors"
    conversion = root / "conversion.json"
    if not weights.is_file() or not conversion.is_file():
        fail(f"{weights} or {conversion} does not exist", "convert the model first: scripts/convert_models.sh <key>")
    source = [{"path": "../pytorch/model.safetensors", "sha256": sha256(weights)}]
    record_path = ts_dir / "variants.json"
    if not args.force and record_path.is_file():
        record = json.loads(record_path.read_text())
        entry = record.get("variants", {}).get("int8-dynamic", {})
        if (record.get("version") == QUANTIZER_VERSION and record.get("source", {}).get("files") == source
                and ("failed" in entry or [{"path": FILE, "sha256": sha256(ts_dir / FILE)}] == entry.get("files"))):
            print(f"torchscript variants: up to date in {ts_dir}")
            return
    import torch

    from convert_model import sentence_embedding

    names = json.loads(conversion.read_text())["inputs"]
    started = time.perf_counter()
    torch.manual_seed(0)
    wrapper, pipeline = sentence_embedding(root / "pytorch", names)
    try:
        quantized = torch.ao.quantization.quantize_dynamic(
            wrapper, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
        ids = torch.randint(5, 100, (2, 16))
        given = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
        example = tuple(given[n] for n in names)
        with torch.inference_mode():
            traced = torch.jit.trace(quantized, example, check_trace=False)
            expected = quantized(*example)
    except Exception as e:  # noqa: BLE001: PyTorch's own message is the reason
        # Recorded, so embench names the reason for a tch int8 cell; the conversion goes on.
        print(f"error: torch dynamic int8 of {root} does not trace: {e}\n"
              "fix: leave precision int8 out for tch on this model (python-torch eager quantises at load instead)",
              file=sys.stderr)
        ts_dir.mkdir(parents=True, exist_ok=True)
        write_record(record_path, {"version": QUANTIZER_VERSION, "source": {"path": "../pytorch/model.safetensors",
                                                                            "files": source},
                                   "variants": {"int8-dynamic": {"path": FILE, "tool": "torch.jit.trace",
                                                                 "failed": str(e)}}})
        return
    ts_dir.mkdir(parents=True, exist_ok=True)
    traced.save(str(ts_dir / FILE))
    loaded = torch.jit.load(str(ts_dir / FILE)).eval()
    with torch.inference_mode():
        diff = (loaded(*example) - expected).abs().max().item()
    if not diff < 1e-5:
        fail(f"{ts_dir / FILE}: the traced module differs from the quantised one by {diff:.2e}",
             "report it with the model's key; the int8 TorchScript is not usable")
    ops = collections.Counter(n.kind() for n in loaded.inlined_graph.nodes() if n.kind().startswith("quantized::"))
    body = {"version": QUANTIZER_VERSION, "source": {"path": "../pytorch/model.safetensors", "files": source},
            "variants": {"int8-dynamic": {
                "path": FILE, "files": [{"path": FILE, "sha256": sha256(ts_dir / FILE)}],
                "tool": f"torch.ao.quantization.quantize_dynamic + torch.jit.trace (torch {torch.__version__}, "
                        f"engine {torch.backends.quantized.engine})",
                "settings": {"modules": "torch.nn.Linear", "dtype": "qint8", "qconfig": "per_channel_dynamic_qconfig",
                             "pipeline": pipeline},
                "seconds": round(time.perf_counter() - started, 2), "op_types": dict(sorted(ops.items()))}},
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_record(record_path, body)
    print(f"torchscript variant int8-dynamic: {ts_dir / FILE} in {body['variants']['int8-dynamic']['seconds']} s; "
          f"{dict(ops)}")


if __name__ == "__main__":
    main()
