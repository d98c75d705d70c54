#!/usr/bin/env python3
"""Reduced-precision variants of a converted text model's ONNX graph, made with ONNX
Runtime's own tools, for `precision: int8 | fp16` on the ort and ort-native backends.

    <root>/onnx/model_int8_dynamic.onnx  onnxruntime.quantization.quantize_dynamic: int8
                                         weights (per output channel), activations quantised
                                         at run time per tensor (MatMulInteger, DynamicQuantizeLinear)
    <root>/onnx/model_int8_static.onnx   onnxruntime.quantization.quantize_static, QDQ format:
                                         int8 weights per channel, uint8 activations with ranges
                                         calibrated (min-max) on CALIBRATION real sentences that
                                         are not in the retrieval corpus (retrieval_corpus.py)
    <root>/onnx/model_fp16.onnx          onnxruntime.transformers.float16.convert_float_to_float16,
                                         inputs and outputs kept in fp32 (keep_io_types)
    <root>/onnx/variants.json            what made each: tool and version, settings, seconds, the
                                         operator counts of the graph, its sha256 and the sha256 of
                                         the fp32 model.onnx it was made from (embench refuses a
                                         variant whose source hash no longer matches: stale)

Only MatMul and Gemm nodes with a constant weight are quantised (both int8 variants):
the attention's activation-by-activation products, Softmax, LayerNorm and the pooling
head stay fp32, ONNX Runtime's recipe for transformer encoders. How much each variant
keeps of fp32's nearest neighbours is measured by embench's retrieval-agreement check,
not assumed here.

    python quantize_onnx.py models/<key> [--calibration 256] [--force]

Called by scripts/convert_models.sh after the conversion (text models); up to date when
variants.json names this version and model.onnx's hash.
"""
from __future__ import annotations

import argparse
import collections
import importlib.metadata
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from retrieval_corpus import CALIBRATION, calibration_sentences, fail, sha256  # noqa: E402

# Bump when a variant's recipe changes.
QUANTIZER_VERSION = 1
# Fewer calibration sentences than this give activation ranges of a handful of batches.
MIN_CALIBRATION = 64
CALIBRATION_BATCH = 16
VARIANTS = {
    "int8-dynamic": "model_int8_dynamic.onnx",
    "int8-static": "model_int8_static.onnx",
    "fp16": "model_fp16.onnx",
}


def op_counts(path: pathlib.Path) -> dict[str, int]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items()))


def weight_matmuls(path: pathlib.Path) -> list[str]:
    """MatMul/Gemm nodes whose second input is a constant (a weight)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    consts = {i.name for i in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in consts]


class Calibration:
    """onnxruntime's CalibrationDataReader over the calibration sentences, tokenized as embench
    tokenizes (tokenizer.json, truncation at max_length, padding to each batch's longest)."""

    def __init__(self, root: pathlib.Path, inputs: set[str], max_length: int, sentences: list[str]):
        import numpy as np
        from tokenizers import Tokenizer

        from make_references import hf_dir

        tok = Tokenizer.from_file(str(hf_dir(root) / "tokenizer.json"))
        tok.enable_truncation(max_length)
        tok.enable_padding()
        batches = []
        for i in range(0, len(sentences), CALIBRATION_BATCH):
            enc = tok.encode_batch(sentences[i:i + CALIBRATION_BATCH])
            ids = np.array([e.ids for e in enc], np.int64)
            feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
                    "token_type_ids": np.zeros_like(ids)}
            batches.append({k: v for k, v in feed.items() if k in inputs})
        self.batches = iter(batches)

    def get_next(self):
        return next(self.batches, None)


def up_to_date(onnx_dir: pathlib.Path, source: str | None, calibration: int) -> bool:
    record_path = onnx_dir / "variants.json"
    if not record_path.is_file():
        return False
    record = json.loads(record_path.read_text())
    return (record.get("version") == QUANTIZER_VERSION and record.get("source", {}).get("sha256") == source
            and record.get("calibration", {}).get("sentences") == calibration
            and all(sha256(onnx_dir / v["path"]) == v.get("sha256") for v in record.get("variants", {}).values())
            and set(record.get("variants", {})) == set(VARIANTS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>, converted (onnx/model.onnx)")
    ap.add_argument("--max-length", type=int, required=True, help="max_seq_length of the model (models.yaml)")
    ap.add_argument("--calibration", type=int, default=CALIBRATION,
                    help=f"calibration sentences for int8-static ({MIN_CALIBRATION} to {CALIBRATION})")
    ap.add_argument("--force", action="store_true", help="make them even when up to date")
    args = ap.parse_args()
    if not MIN_CALIBRATION <= args.calibration <= CALIBRATION:
        fail(f"--calibration {args.calibration}: static int8 needs {MIN_CALIBRATION} to {CALIBRATION} sentences "
             f"(fewer calibrate activation ranges on a handful of batches)",
             f"--calibration {CALIBRATION} (the default)")
    onnx_dir = args.root / "onnx"
    source_path = onnx_dir / "model.onnx"
    if not source_path.is_file():
        fail(f"{source_path} does not exist", f"convert the model first: scripts/convert_models.sh <key>")
    source = sha256(source_path)
    if not args.force and up_to_date(onnx_dir, source, args.calibration):
        print(f"onnx variants: up to date in {onnx_dir}")
        return
    try:
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                              quantize_static)
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as e:
        fail(f"ONNX Runtime's quantiser cannot be imported ({e})",
             "make venv (scripts/requirements.txt pins onnxruntime and onnx)")
    # Graphs over protobuf's 2 GB limit keep their weights in external data files.
    external = source_path.stat().st_size > 1_800_000_000 or any(onnx_dir.glob("model.onnx.data*"))
    inputs = {i.name for i in ort.InferenceSession(str(source_path), providers=["CPUExecutionProvider"]).get_inputs()}
    weights = weight_matmuls(source_path)
    ort_version = importlib.metadata.version("onnxruntime")
    made = {}

    def record(name: str, tool: str, settings: dict, started: float) -> None:
        path = onnx_dir / VARIANTS[name]
        made[name] = {"path": VARIANTS[name], "tool": f"{tool} (onnxruntime {ort_version})", "settings": settings,
                      "seconds": round(time.perf_counter() - started, 2), "sha256": sha256(path),
                      "op_types": op_counts(path)}
        print(f"onnx variant {name}: {path} in {made[name]['seconds']} s")

    started = time.perf_counter()
    settings = {"weight_type": "QInt8", "per_channel": True, "op_types_to_quantize": ["MatMul", "Gemm"],
                "MatMulConstBOnly": True}
    try:
        quantize_dynamic(source_path, onnx_dir / VARIANTS["int8-dynamic"], weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul", "Gemm"],
                         use_external_data_format=external, extra_options={"MatMulConstBOnly": True})
    except Exception as e:  # noqa: BLE001: the quantiser's own message is the reason
        fail(f"quantize_dynamic failed on {source_path}: {e}", "report it with the model's key; int8-dynamic is not made")
    record("int8-dynamic", "onnxruntime.quantization.quantize_dynamic", settings, started)

    started = time.perf_counter()
    sentences = calibration_sentences()[:args.calibration]
    settings = {"quant_format": "QDQ", "weight_type": "QInt8", "activation_type": "QUInt8", "per_channel": True,
                "calibrate_method": "MinMax", "nodes_to_quantize": f"{len(weights)} MatMul/Gemm with a constant weight",
                "calibration_sentences": len(sentences), "calibration_batch": CALIBRATION_BATCH}
    try:
        quantize_static(source_path, onnx_dir / VARIANTS["int8-static"],
                        Calibration(args.root, inputs, args.max_length, sentences),
                        quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
                        per_channel=True, calibrate_method=CalibrationMethod.MinMax, nodes_to_quantize=weights,
                        use_external_data_format=external)
    except Exception as e:  # noqa: BLE001
        fail(f"quantize_static failed on {source_path}: {e}", "report it with the model's key; int8-static is not made")
    record("int8-static", "onnxruntime.quantization.quantize_static", settings, started)

    started = time.perf_counter()
    model = convert_float_to_float16(onnx.load(str(source_path)), keep_io_types=True)
    onnx.save(model, str(onnx_dir / VARIANTS["fp16"]), save_as_external_data=external)
    record("fp16", "onnxruntime.transformers.float16.convert_float_to_float16",
           {"keep_io_types": True}, started)

    # Each variant loads and gives finite vectors (quality is embench's check, not this).
    import numpy as np

    probe = Calibration(args.root, inputs, args.max_length, sentences[:4]).get_next()
    for name, entry in made.items():
        out = ort.InferenceSession(str(onnx_dir / entry["path"]), providers=["CPUExecutionProvider"]).run(None, probe)[0]
        if not np.isfinite(out).all():
            fail(f"{onnx_dir / entry['path']}: non-finite vectors on calibration sentences",
                 f"{name} of this model is broken; leave precision {name.split('-')[0]} out of the config")
    body = {"version": QUANTIZER_VERSION, "source": {"path": "model.onnx", "sha256": source},
            "calibration": {"sentences": len(sentences), "from": "scripts/python/retrieval_corpus.py (not in the corpus)"},
            "variants": made, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (onnx_dir / "variants.json").write_text(json.dumps(body, indent=1) + "\n")


if __name__ == "__main__":
    main()
