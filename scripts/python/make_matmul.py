"""Writes the MatMul model behind `embench sysinfo --peak`: Y = A @ B with A an
[n, n] fp32 input and B an [n, n] fp32 constant, as ONNX (opset 17).

Usage: .venv/bin/python scripts/python/make_matmul.py [--n 2048] [--out models/_peak/matmul_2048.onnx]
"""

import argparse
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()
    out = args.out or pathlib.Path("models/_peak") / f"matmul_{args.n}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    n = args.n
    b = numpy_helper.from_array(np.random.default_rng(7).standard_normal((n, n), dtype=np.float32), name="b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "matmul_peak",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        initializer=[b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, out)
    print(out)


if __name__ == "__main__":
    main()
