#!/usr/bin/env python3
"""embench's Python worker: the model in a Python framework, driven by embench over pipes.

embench's python-* backends start this script (embedded in the binary, run with the
venv's python), so a Python stack is measured by the same runner, load generator,
histograms and correctness gate as the Rust backends. The worker does what a Python
service does per request: build the framework's input tensors from the token ids,
run the model, pool and normalise in the framework, return the vectors.

Protocol (little-endian) on stdin/stdout:
- after loading, one JSON line: {"ok": true, "framework", "version", "device",
  "precision", "threads", "settings"} or {"ok": false, "error"};
- request: u32 rows, u32 seq, then int64 input_ids, attention_mask, token_type_ids
  ([rows, seq] each);
- reply: u32 0, u32 rows, u32 dim, float32 [rows, dim]; or u32 1, u32 n, n bytes of
  UTF-8 error message.
EOF on stdin ends the worker.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import struct
import sys
import traceback

import numpy as np

HEADER = struct.Struct("<II")


def last_positions(mask: np.ndarray) -> np.ndarray:
    """Each row's last position whose mask is 1 (0 when none is), on either padding side:
    sentence-transformers' `lasttoken` pooling."""
    seq = mask.shape[1]
    flipped = mask[:, ::-1] != 0
    return np.where(flipped.any(axis=1), seq - 1 - flipped.argmax(axis=1), 0)


def pool_numpy(hidden: np.ndarray, mask: np.ndarray, kind: str, normalize: bool) -> np.ndarray:
    """The sentence embeddings of a network's output: as they are when the head ran in the
    graph (`[batch, dim]`, converter 5), else pooled from the token states."""
    if hidden.ndim == 2:
        return np.ascontiguousarray(hidden, dtype=np.float32)
    if kind == "cls":
        out = hidden[:, 0, :]
    elif kind == "lasttoken":
        out = hidden[np.arange(hidden.shape[0]), last_positions(mask)]
    else:
        m = mask[..., None].astype(hidden.dtype)
        out = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    if normalize:
        out = out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    return np.ascontiguousarray(out, dtype=np.float32)


def load_ort(args):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]

    def run(feed):
        hidden = sess.run(None, {n: feed[n] for n in names})[0]
        return pool_numpy(hidden, feed["attention_mask"], args.pooling, args.normalize)

    settings = {"providers": ",".join(sess.get_providers()), "graph_optimization": "all",
                "execution_mode": "sequential"}
    return ("onnxruntime (python)", ort.__version__, "fp32", settings), run


def load_openvino(args):
    import openvino as ov

    core = ov.Core()
    precision = {"fp32": "f32", "bf16": "bf16"}[args.precision]
    compiled = core.compile_model(args.model, "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": str(args.threads),
        "INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": "1"})
    request = compiled.create_infer_request()
    names = [p.get_any_name() for p in compiled.inputs]

    def run(feed):
        request.infer({n: feed[n] for n in names})
        hidden = request.get_output_tensor(0).data
        return pool_numpy(hidden, feed["attention_mask"], args.pooling, args.normalize)

    ran = str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
    ran = {"f32": "fp32", "<type: 'float32'>": "fp32", "bf16": "bf16", "<type: 'bfloat16'>": "bf16"}.get(ran, ran)
    settings = {key.lower(): str(compiled.get_property(key))
                for key in ("PERFORMANCE_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT")}
    return ("openvino (python)", ov.get_version(), ran, settings), run


def load_torch(args):
    import torch

    torch.set_num_threads(args.threads)
    if args.mode == "torchscript":
        # The traced export: the network and its head (pooling, Dense, Normalize) in one module.
        model = torch.jit.load(args.model).eval()
        conversion = pathlib.Path(args.model).resolve().parents[1] / "conversion.json"
        names = json.loads(conversion.read_text())["inputs"]

        def forward(feed):
            out = model(*(feed[n] for n in names))
            out = out[0] if isinstance(out, (tuple, list)) else out
            if out.dim() == 3:  # an older export's token states
                return pool_numpy(out.float().numpy(), feed["attention_mask"].numpy(), args.pooling, args.normalize)
            return out.float().contiguous().numpy()
        version = torch.__version__
    else:
        # The model as a Python service runs it: sentence-transformers' own pipeline
        # (network, Pooling, Dense, Normalize), in PyTorch, on the ids embench sends.
        import sentence_transformers
        import transformers

        transformers.utils.logging.disable_progress_bar()
        st = sentence_transformers.SentenceTransformer(str(pathlib.Path(args.model).parent), device="cpu").eval()
        import inspect

        # The inputs the network's forward takes (Qwen3 has no token_type_ids).
        wanted = set(inspect.signature(st[0].auto_model.forward).parameters)

        def forward(feed):
            features = {n: t for n, t in feed.items() if n in wanted}
            return st(features)["sentence_embedding"].float().contiguous().numpy()
        version = (f"{torch.__version__} (transformers {transformers.__version__}, "
                   f"sentence-transformers {sentence_transformers.__version__})")

    def run(feed):
        with torch.inference_mode():
            return forward({n: torch.from_numpy(v) for n, v in feed.items()})

    settings = {"mode": args.mode, "interop_threads": str(torch.get_num_interop_threads())}
    return (f"pytorch {args.mode} (python)", version, "fp32", settings), run


def load_echo(args):
    """Answers at once with unit vectors: what is left is the protocol's own cost."""
    def run(feed):
        out = np.zeros((feed["input_ids"].shape[0], args.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    return ("echo (python)", platform.python_version(), "fp32", {}), run


LOADERS = {"ort": load_ort, "openvino": load_openvino, "torch": load_torch, "echo": load_echo}


def read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    if data is None or len(data) < n:
        return None
    return data


def serve(run, stdin, stdout) -> None:
    while True:
        head = read_exact(stdin, HEADER.size)
        if head is None:
            return
        rows, seq = HEADER.unpack(head)
        body = read_exact(stdin, 3 * rows * seq * 8)
        if body is None:
            return
        # A writable copy: torch.from_numpy refuses to share read-only memory silently.
        arrays = np.frombuffer(bytearray(body), dtype="<i8").reshape(3, rows, seq)
        feed = {"input_ids": arrays[0], "attention_mask": arrays[1], "token_type_ids": arrays[2]}
        try:
            out = run(feed)
            stdout.write(struct.pack("<III", 0, out.shape[0], out.shape[1]))
            stdout.write(out.tobytes())
        except Exception as e:  # noqa: BLE001 - every failure goes back to embench as the request's error
            msg = f"{type(e).__name__}: {e}".encode()
            stdout.write(struct.pack("<II", 1, len(msg)) + msg)
        stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(LOADERS), required=True)
    parser.add_argument("--model", default="")
    parser.add_argument("--mode", choices=("eager", "torchscript"), default="eager")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--pooling", choices=("mean", "cls", "lasttoken"), default="mean")
    parser.add_argument("--normalize", type=int, default=1)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    stdin = sys.stdin.buffer
    # The protocol gets its own copy of fd 1; fd 1 itself then points at stderr, so
    # whatever a library prints (from Python or C) cannot corrupt the protocol.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        (framework, version, precision, settings), run = LOADERS[args.kind](args)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        hello = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        stdout.write((json.dumps(hello) + "\n").encode())
        stdout.flush()
        sys.exit(1)
    settings["python"] = platform.python_version()
    hello = {"ok": True, "framework": framework, "version": version, "device": "cpu", "precision": precision,
             "threads": args.threads, "settings": settings}
    stdout.write((json.dumps(hello) + "\n").encode())
    stdout.flush()
    serve(run, stdin, stdout)


if __name__ == "__main__":
    main()
