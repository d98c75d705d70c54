#!/usr/bin/env python3
"""int8 variants of a converted text model's OpenVINO IR, made with NNCF (OpenVINO's
own compression tool), for `precision: int8` on the openvino backend.

    <root>/openvino/model_int8.xml|.bin          nncf.quantize: post-training quantisation of
                                                 weights and activations (ModelType.TRANSFORMER,
                                                 the preset NNCF gives transformer encoders),
                                                 calibrated on CALIBRATION real sentences that are
                                                 not in the retrieval corpus (retrieval_corpus.py)
    <root>/openvino/model_int8_weights.xml|.bin  nncf.compress_weights(INT8_ASYM): int8 weights,
                                                 activations in the inference precision
    <root>/openvino/variants.json                what made each: tool and versions, settings,
                                                 seconds, the sha256 of its .xml and .bin and of
                                                 the fp32 IR it came from, and the layers
                                                 of its compiled runtime graph by runtime
                                                 precision (this machine's CPU plugin)

embench refuses a variant whose hashes no longer match (stale); a variant NNCF could not
make is recorded with NNCF's error, and the other is still made. How much search quality
each keeps is measured by embench's retrieval-agreement check, not here.

    python quantize_openvino.py models/<key> --max-length 256 [--calibration 256] [--force]

Called by scripts/convert_models.sh after quantize_onnx.py (text models).
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
from quantize_onnx import CALIBRATION_BATCH, MIN_CALIBRATION, Calibration, up_to_date, write_record  # noqa: E402
from retrieval_corpus import CALIBRATION, calibration_sentences, fail, sha256  # noqa: E402

# Bump when a variant's recipe changes.
QUANTIZER_VERSION = 1
VARIANTS = {"int8-static": "model_int8.xml", "int8-weights": "model_int8_weights.xml"}
# Layer types whose runtime precision says whether the matrix products run in int8.
MATMUL_LAYERS = ("FullyConnected", "MatMul", "Convolution")


def runtime_layers(core, path: pathlib.Path) -> dict[str, int]:
    """The compiled runtime graph's matrix-product layers by runtime precision
    (`FullyConnected u8`: 36), as OpenVINO's CPU plugin compiles the IR at f32 hint."""
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    counts = collections.Counter()
    for op in compiled.get_runtime_model().get_ops():
        rt = op.get_rt_info()
        layer = rt["layerType"].astype(str)
        if layer in MATMUL_LAYERS:
            counts[f"{layer} {rt['runtimePrecision'].astype(str)}"] += 1
    return dict(sorted(counts.items()))


def files_of(xml: pathlib.Path) -> list[dict]:
    """An IR's .xml and .bin, hashed."""
    return [{"path": f.name, "sha256": sha256(f)} for f in (xml, xml.with_suffix(".bin"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>, converted (openvino/model_fp32.xml)")
    ap.add_argument("--max-length", type=int, required=True, help="max_seq_length of the model (models.yaml)")
    ap.add_argument("--calibration", type=int, default=CALIBRATION,
                    help=f"calibration sentences for int8-static ({MIN_CALIBRATION} to {CALIBRATION})")
    ap.add_argument("--force", action="store_true", help="make them even when up to date")
    args = ap.parse_args()
    if not MIN_CALIBRATION <= args.calibration <= CALIBRATION:
        fail(f"--calibration {args.calibration}: int8 post-training quantisation needs {MIN_CALIBRATION} to "
             f"{CALIBRATION} sentences", f"--calibration {CALIBRATION} (the default)")
    ov_dir = args.root / "openvino"
    source_xml = ov_dir / "model_fp32.xml"
    source_bin = source_xml.with_suffix(".bin")
    if not source_xml.is_file() or not source_bin.is_file():
        fail(f"{source_xml} (or its .bin) does not exist", "convert the model first: scripts/convert_models.sh <key>")
    source = files_of(source_xml)
    if not args.force and up_to_date(ov_dir, QUANTIZER_VERSION, source, args.calibration, VARIANTS, files_of):
        print(f"openvino variants: up to date in {ov_dir}")
        return
    try:
        import nncf
        import openvino as ov
    except ImportError as e:
        fail(f"NNCF cannot be imported ({e})", "make venv (scripts/requirements.txt pins nncf)")
    core = ov.Core()
    inputs = {i.get_any_name() for i in core.read_model(str(source_xml)).inputs}
    versions = f"nncf {importlib.metadata.version('nncf')}, openvino {importlib.metadata.version('openvino')}"
    made = {}

    def make(name: str, tool: str, settings: dict, build) -> None:
        """Saves `build()`'s model as variant `name`; records it, or NNCF's error."""
        path = ov_dir / VARIANTS[name]
        started = time.perf_counter()
        try:
            ov.save_model(build(), str(path), compress_to_fp16=False)
            layers = runtime_layers(core, path)
        except Exception as e:  # noqa: BLE001: the tool's own message is the reason
            made[name] = {"path": VARIANTS[name], "tool": f"{tool} ({versions})", "failed": str(e)}
            print(f"error: openvino variant {name} of {source_xml} could not be made: {e}\n"
                  f"fix: leave precision int8 with quantization {name.split('-')[1]} out for this model on openvino",
                  file=sys.stderr)
            return
        made[name] = {"path": VARIANTS[name], "files": files_of(path), "tool": f"{tool} ({versions})",
                      "settings": settings, "seconds": round(time.perf_counter() - started, 2),
                      "runtime_layers": layers}
        print(f"openvino variant {name}: {path} in {made[name]['seconds']} s; runtime {layers}")

    sentences = calibration_sentences()[:args.calibration]
    batches = list(Calibration(args.root, inputs, args.max_length, sentences).batches)
    make("int8-static", "nncf.quantize",
         {"model_type": "TRANSFORMER", "preset": "performance (NNCF's default)",
          "calibration_sentences": len(sentences), "calibration_batch": CALIBRATION_BATCH},
         lambda: nncf.quantize(core.read_model(str(source_xml)), nncf.Dataset(batches),
                               model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches)))
    make("int8-weights", "nncf.compress_weights", {"mode": "INT8_ASYM"},
         lambda: nncf.compress_weights(core.read_model(str(source_xml)), mode=nncf.CompressWeightsMode.INT8_ASYM))
    write_record(ov_dir / "variants.json", {
        "version": QUANTIZER_VERSION, "source": {"path": source_xml.name, "files": source},
        "calibration": {"sentences": len(sentences), "from": "scripts/python/retrieval_corpus.py (not in the corpus)"},
        "variants": made, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


if __name__ == "__main__":
    main()
