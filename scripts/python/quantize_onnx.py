#!/usr/bin/env python3
"""Reduced-precision variants of a converted text model's ONNX graph, made with ONNX
Runtime's own tools, for `precision: int8 | fp16` on the ort backend.

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
                                         operator counts of the graph, the sha256 of its files and of
                                         the fp32 model.onnx (and its external data) it was made from
                                         (embench refuses a variant whose hashes no longer match:
                                         stale); a variant the tool could not make is recorded with
                                         the tool's error, and the others are still made

Only MatMul and Gemm nodes with a constant weight are quantised (both int8 variants):
the attention's activation-by-activation products, Softmax and LayerNorm stay fp32
(a Dense head's weights are quantised like the encoder's), ONNX Runtime's recipe for
transformer encoders. How much each variant keeps of fp32's nearest neighbours is
measured by embench's retrieval-agreement check, not assumed here.

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
QUANTIZER_VERSION = 2
# Fewer calibration sentences than this give activation ranges of a handful of batches.
MIN_CALIBRATION = 64
CALIBRATION_BATCH = 16
VARIANTS = {
    "int8-dynamic": "model_int8_dynamic.onnx",
    "int8-static": "model_int8_static.onnx",
    "fp16": "model_fp16.onnx",
}


def files_of(path: pathlib.Path) -> list[dict]:
    """The graph file and its external data file (`<name>.data`, when it has one), hashed."""
    files = [path] + [d for d in [path.with_name(path.name + ".data")] if d.is_file()]
    return [{"path": f.name, "sha256": sha256(f)} for f in files]


def write_record(path: pathlib.Path, body: dict) -> None:
    """Through a temporary name and a rename: a reader never sees half a record."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n")
    tmp.replace(path)


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


def up_to_date(folder: pathlib.Path, version: int, source: list[dict], calibration: int | None,
               names, files_of) -> bool:
    """Whether `folder/variants.json` was written by this `version` from these `source`
    files, with this calibration size, and holds every variant of `names` unchanged since
    (`files_of(path)` hashes a variant's files) or recorded as failed. Shared by the
    quantisation scripts."""
    record_path = folder / "variants.json"
    if not record_path.is_file():
        return False
    record = json.loads(record_path.read_text())
    variants = record.get("variants", {})
    return (record.get("version") == version and record.get("source", {}).get("files") == source
            and record.get("calibration", {}).get("sentences") == calibration and set(variants) == set(names)
            # A variant its tool could not make stays so until the version or the source
            # changes, or --force: retrying it on every conversion gives the same error.
            and all("failed" in v or files_of(folder / v["path"]) == v.get("files") for v in variants.values()))


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
    source = files_of(source_path)
    if not args.force and up_to_date(onnx_dir, QUANTIZER_VERSION, source, args.calibration, VARIANTS, files_of):
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

    import numpy as np

    sentences = calibration_sentences()[:args.calibration]
    probe = Calibration(args.root, inputs, args.max_length, sentences[:4]).get_next()

    def make(name: str, tool: str, settings: dict, build) -> None:
        """Runs `build(path)`; records the variant, or the tool's error (the others are still made)."""
        path = onnx_dir / VARIANTS[name]
        started = time.perf_counter()
        try:
            build(path)
            # It loads and gives finite vectors (quality is embench's check, not this).
            out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, probe)[0]
            if not np.isfinite(out).all():
                raise ValueError("non-finite vectors on calibration sentences")
        except Exception as e:  # noqa: BLE001: the tool's own message is the reason
            made[name] = {"path": VARIANTS[name], "tool": f"{tool} (onnxruntime {ort_version})", "failed": str(e)}
            print(f"error: onnx variant {name} of {source_path} could not be made: {e}\n"
                  f"fix: leave precision {name.split('-')[0]} out for this model on ort (embench says so too)",
                  file=sys.stderr)
            return
        made[name] = {"path": VARIANTS[name], "tool": f"{tool} (onnxruntime {ort_version})", "settings": settings,
                      "seconds": round(time.perf_counter() - started, 2), "files": files_of(path),
                      "op_types": op_counts(path)}
        print(f"onnx variant {name}: {path} in {made[name]['seconds']} s")

    make("int8-dynamic", "onnxruntime.quantization.quantize_dynamic",
         {"weight_type": "QInt8", "per_channel": True, "op_types_to_quantize": ["MatMul", "Gemm"],
          "MatMulConstBOnly": True},
         lambda path: quantize_dynamic(source_path, path, weight_type=QuantType.QInt8, per_channel=True,
                                       op_types_to_quantize=["MatMul", "Gemm"], use_external_data_format=external,
                                       extra_options={"MatMulConstBOnly": True}))
    make("int8-static", "onnxruntime.quantization.quantize_static",
         {"quant_format": "QDQ", "weight_type": "QInt8", "activation_type": "QUInt8", "per_channel": True,
          "calibrate_method": "MinMax", "nodes_to_quantize": f"{len(weights)} MatMul/Gemm with a constant weight",
          "calibration_sentences": len(sentences), "calibration_batch": CALIBRATION_BATCH},
         lambda path: quantize_static(source_path, path, Calibration(args.root, inputs, args.max_length, sentences),
                                      quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8,
                                      activation_type=QuantType.QUInt8, per_channel=True,
                                      calibrate_method=CalibrationMethod.MinMax, nodes_to_quantize=weights,
                                      use_external_data_format=external))

    def fp16(path: pathlib.Path) -> None:
        model = convert_float_to_float16(onnx.load(str(source_path)), keep_io_types=True)
        # A fixed external data name: a rerun overwrites it instead of leaving another.
        onnx.save(model, str(path), save_as_external_data=external, location=f"{path.name}.data")

    make("fp16", "onnxruntime.transformers.float16.convert_float_to_float16", {"keep_io_types": True}, fp16)
    write_record(onnx_dir / "variants.json", {
        "version": QUANTIZER_VERSION, "source": {"path": "model.onnx", "files": source},
        "calibration": {"sentences": len(sentences), "from": "scripts/python/retrieval_corpus.py (not in the corpus)"},
        "variants": made, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


if __name__ == "__main__":
    main()
