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
- request, `--modality text` (the default): u32 rows, u32 seq, then int64 input_ids,
  attention_mask, token_type_ids ([rows, seq] each);
- request, `--modality image --image-size H W`: u32 rows, u32 values_per_image (must be
  3*H*W, else the reply is an error), then float32 pixel_values [rows, 3, H, W];
- reply: u32 0, u32 rows, u32 dim, float32 [rows, dim]; or u32 1, u32 n, n bytes of
  UTF-8 error message.
EOF on stdin ends the worker.

A multimodal model (CLIP, SigLIP) runs one tower per worker: `--model` names the
tower's file (onnx/text_model.onnx or vision_model.onnx, openvino/*_fp32.xml,
torchscript/*.pt) or, for PyTorch eager, pytorch/config.json as for text models;
eager runs transformers' get_text_features / get_image_features, L2-normalised.
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
# config.json model types run tower by tower (transformers' CLIPModel, SiglipModel).
MULTIMODAL = ("clip", "siglip")


def last_positions(mask: np.ndarray) -> np.ndarray:
    """Each row's last position whose mask is 1 (0 when none is), on either padding side:
    sentence-transformers' `lasttoken` pooling."""
    seq = mask.shape[1]
    flipped = mask[:, ::-1] != 0
    return np.where(flipped.any(axis=1), seq - 1 - flipped.argmax(axis=1), 0)


def pool_numpy(hidden: np.ndarray, mask: np.ndarray | None, kind: str, normalize: bool) -> np.ndarray:
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
        return pool_numpy(hidden, feed.get("attention_mask"), args.pooling, args.normalize)

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
    # Each input port by any of its names: ovc may fold a no-op Cast after an input (CLIP's
    # pixel_values), so get_any_name() can be another name.
    ports = [p.get_names() for p in compiled.inputs]

    def run(feed):
        given = {}
        for i, names in enumerate(ports):
            match = [n for n in feed if n in names]
            if not match:
                raise KeyError(f"the model's input {sorted(names)} is none of {', '.join(feed)}")
            given[i] = feed[match[0]]
        request.infer(given)
        hidden = request.get_output_tensor(0).data
        return pool_numpy(hidden, feed.get("attention_mask"), args.pooling, args.normalize)

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
        record = json.loads(conversion.read_text())
        # A multimodal model's towers each take their own inputs.
        names = record["towers"][args.modality]["inputs"] if "towers" in record else record["inputs"]

        def forward(feed):
            out = model(*(feed[n] for n in names))
            out = out[0] if isinstance(out, (tuple, list)) else out
            if out.dim() == 3:  # an older export's token states
                return pool_numpy(out.float().numpy(), feed["attention_mask"].numpy(), args.pooling, args.normalize)
            return out.float().contiguous().numpy()
        version = torch.__version__
    elif model_type(args.model) in MULTIMODAL:
        forward, version = multimodal_eager(args)
    else:
        # The model as a Python service runs it: sentence-transformers' own pipeline
        # (network, Pooling, Dense, Normalize), in PyTorch, on the ids embench sends.
        import sentence_transformers
        import transformers

        transformers.utils.logging.disable_progress_bar()
        st = sentence_transformers.SentenceTransformer(str(pathlib.Path(args.model).parent), device="cpu").eval()
        if args.precision == "int8":
            # PyTorch's dynamic quantisation of the Linear layers, as quantize_torch.py
            # applies it before tracing the export tch runs.
            st = torch.ao.quantization.quantize_dynamic(
                st, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8,
                inplace=True)  # no second copy of the model in memory
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
    ran = "fp32"
    if args.precision == "int8":
        # torchscript: the file Rust chose is the int8 export (checked against its record).
        settings["quantization"] = (f"torch.ao.quantization.quantize_dynamic (Linear, qint8 per channel, engine "
                                    f"{torch.backends.quantized.engine})")
        ran = "int8"
    elif args.precision != "fp32":
        raise ValueError(f"precision {args.precision} is not offered by python-torch (fp32 or int8)")
    return (f"pytorch {args.mode} (python)", version, ran, settings), run


def model_type(model: str) -> str | None:
    """`model_type` of the config.json beside `model` (the safetensors embench passes for
    eager PyTorch, or config.json itself); None without one."""
    path = pathlib.Path(model)
    path = path if path.name == "config.json" else path.parent / "config.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("model_type")


def multimodal_eager(args):
    """CLIP or SigLIP in PyTorch as its users call it: transformers' model (AutoModel:
    CLIPModel, SiglipModel) and one tower, `get_text_features(input_ids, attention_mask
    for CLIP only)` or `get_image_features(pixel_values)`, `.pooler_output` L2-normalised."""
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()
    folder = pathlib.Path(args.model).parent
    model = transformers.AutoModel.from_pretrained(str(folder)).float().eval()
    with_mask = model.config.model_type == "clip"  # SigLIP's text tower is called without a mask

    def forward(feed):
        if args.modality == "image":
            out = model.get_image_features(pixel_values=feed["pixel_values"]).pooler_output
        else:
            given = {"input_ids": feed["input_ids"]}
            if with_mask:
                given["attention_mask"] = feed["attention_mask"]
            out = model.get_text_features(**given).pooler_output
        return torch.nn.functional.normalize(out.float(), dim=-1).contiguous().numpy()

    return forward, f"{torch.__version__} (transformers {transformers.__version__})"


def load_echo(args):
    """Answers at once with unit vectors: what is left is the protocol's own cost."""
    def run(feed):
        out = np.zeros((next(iter(feed.values())).shape[0], args.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out

    return ("echo (python)", platform.python_version(), "fp32", {}), run


LOADERS = {"ort": load_ort, "openvino": load_openvino, "torch": load_torch, "echo": load_echo}


def read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    if data is None or len(data) < n:
        return None
    return data


def read_text(stdin, rows: int, seq: int) -> dict[str, np.ndarray] | None:
    body = read_exact(stdin, 3 * rows * seq * 8)
    if body is None:
        return None
    # A writable copy: torch.from_numpy refuses to share read-only memory silently.
    arrays = np.frombuffer(bytearray(body), dtype="<i8").reshape(3, rows, seq)
    return {"input_ids": arrays[0], "attention_mask": arrays[1], "token_type_ids": arrays[2]}


def read_image(stdin, rows: int, values: int, size: tuple[int, int]) -> dict[str, np.ndarray] | str | None:
    """The request's pixels as [rows, 3, H, W], or an error message when values_per_image is
    not 3*H*W (the body is read all the same, so the next request starts where it should)."""
    body = read_exact(stdin, rows * values * 4)
    if body is None:
        return None
    height, width = size
    if values != 3 * height * width:
        return (f"a request of {values} values per image; this worker's model takes 3x{height}x{width} = "
                f"{3 * height * width} (--image-size {height} {width})")
    pixels = np.frombuffer(bytearray(body), dtype="<f4").reshape(rows, 3, height, width)
    return {"pixel_values": pixels.astype(np.float32, copy=False)}


def serve(run, stdin, stdout, image_size: tuple[int, int] | None = None) -> None:
    """Answers requests until EOF: token ids, or pixels when `image_size` (H, W) is given."""
    while True:
        head = read_exact(stdin, HEADER.size)
        if head is None:
            return
        rows, seq = HEADER.unpack(head)
        feed = read_text(stdin, rows, seq) if image_size is None else read_image(stdin, rows, seq, image_size)
        if feed is None:
            return
        try:
            if isinstance(feed, str):
                raise ValueError(feed)
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
    parser.add_argument("--modality", choices=("text", "image"), default="text",
                        help="what the requests carry: token ids, or pixels (a multimodal model's image tower)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="the image tower's input height and width (with --modality image)")
    args = parser.parse_args()
    if args.modality == "image" and args.image_size is None:
        parser.error("--modality image needs --image-size H W")
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
    if args.modality == "image":
        settings["modality"] = "image"
    hello = {"ok": True, "framework": framework, "version": version, "device": "cpu", "precision": precision,
             "threads": args.threads, "settings": settings}
    stdout.write((json.dumps(hello) + "\n").encode())
    stdout.flush()
    serve(run, stdin, stdout, tuple(args.image_size) if args.modality == "image" else None)


if __name__ == "__main__":
    main()
