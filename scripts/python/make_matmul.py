"""Writes the MatMul models behind `embench sysinfo --peak`, as ONNX (opset 17):

- matmul_<n>.onnx: Y = A @ B, A an [n, n] fp32 input, B an [n, n] fp32 constant;
- matmul_<n>_int8.onnx: the same product in QDQ form (A quantized to uint8 on the
  fly, B stored as int8), which OpenVINO runs as an int8 MatMul, and beside it
  matmul_<n>_int8.json: the precision OpenVINO's CPU plugin actually ran that
  MatMul in (read from the compiled model's runtime graph), so the int8 peak is
  labelled with what ran rather than what was asked.

Usage: .venv/bin/python scripts/python/make_matmul.py [--n 2048] [--out-dir models/_peak]
"""

import argparse
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(nodes, inits, n: int, name: str, out: pathlib.Path) -> None:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, out)
    print(out)


def runtime_precision(path: pathlib.Path) -> dict:
    """The layer type and runtime precision OpenVINO's CPU plugin chose for the product."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": "1"})
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else ""
        if layer in ("FullyConnected", "MatMul"):
            return {"layer": layer, "runtime_precision": info["runtimePrecision"].astype(str).lower(),
                    "openvino": ov.get_version()}
    return {"layer": None, "runtime_precision": None, "openvino": ov.get_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("models/_peak"))
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    n = args.n
    rng = np.random.default_rng(7)
    b = numpy_helper.from_array(rng.standard_normal((n, n), dtype=np.float32), name="b")
    save([helper.make_node("MatMul", ["a", "b"], ["y"])], [b], n, "matmul_peak", args.out_dir / f"matmul_{n}.onnx")

    scalar = lambda v, dtype, name: numpy_helper.from_array(np.array(v, dtype=dtype), name=name)  # noqa: E731
    inits = [
        numpy_helper.from_array(rng.integers(-127, 128, size=(n, n), dtype=np.int8), name="b_q"),
        scalar(0.02, np.float32, "a_scale"), scalar(0, np.uint8, "a_zp"),
        scalar(0.01, np.float32, "b_scale"), scalar(0, np.int8, "b_zp"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["a", "a_scale", "a_zp"], ["a_q"]),
        helper.make_node("DequantizeLinear", ["a_q", "a_scale", "a_zp"], ["a_dq"]),
        helper.make_node("DequantizeLinear", ["b_q", "b_scale", "b_zp"], ["b_dq"]),
        helper.make_node("MatMul", ["a_dq", "b_dq"], ["y"]),
    ]
    int8 = args.out_dir / f"matmul_{n}_int8.onnx"
    save(nodes, inits, n, "matmul_peak_int8", int8)
    facts = runtime_precision(int8)
    int8.with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    print(int8.with_suffix(".json"), facts)


if __name__ == "__main__":
    main()
