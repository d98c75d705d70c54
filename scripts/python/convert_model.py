#!/usr/bin/env python3
"""Converts one model folder into the formats embench's backends load, verifies
every export against PyTorch, and writes the probe set's reference embeddings.

    <root>/pytorch/           the Hugging Face folder (input)
    <root>/onnx/model.onnx    output `sentence_embedding` [batch, dim]: the model's whole
                              sentence-transformers pipeline (network, Pooling, Dense, Normalize)
                              as one graph; dynamic batch and sequence axes
    <root>/openvino/model_fp32.xml|.bin   exact fp32 IR (ovc --compress_to_fp16=False)
    <root>/openvino/model_fp16.xml|.bin   IR with fp16-compressed weights (ovc's default)
    <root>/torchscript/model.pt          traced TorchScript module
    <root>/reference.json     probe sentences and their PyTorch embeddings (the run's correctness gate)
    <root>/references/seq_N.json  the same at fixed lengths (make_references.py)
    <root>/conversion.json    what made each file: exporter, versions, max abs diffs

Called by scripts/convert_models.sh, which also fetches the folder; run that instead.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_references import DEFAULT_SEQ_LENS, PROBES, usable_positions, write_references  # noqa: E402

# Bump when the outputs change, so convert_models.sh redoes existing conversions.
# 5: the head (pooling, Dense, Normalize) is in the graph; output `sentence_embedding`.
CONVERTER_VERSION = 5
OUTPUT = "sentence_embedding"
OPSET = 17
FP32_TOLERANCE = 1e-4
def fail(msg: str, fix: str) -> None:
    print(f"error: {msg}\nfix: {fix}", file=sys.stderr)
    sys.exit(1)


class LastHiddenState(torch.nn.Module):
    """The network alone: token ids (and mask) in, `last_hidden_state` out."""

    def __init__(self, model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        return self.model(**{n: given[n] for n in self.names}).last_hidden_state


class BidirectionalGemma3(torch.nn.Module):
    """Gemma 3 text with bidirectional attention (EmbeddingGemma), with its two masks
    built here: transformers builds them with torch.vmap, which the TorchScript-based
    paths (legacy ONNX export, jit.trace, ovc from a module) cannot trace
    (`RuntimeError: unordered_map::at`). Equal to transformers' masks: a full-attention
    layer sees every real token, a sliding one the real tokens with |i - j| <
    config.sliding_window (the runtime value: a saved window w runs as w // 2 + 1)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        batch, seq = input_ids.shape
        keys = attention_mask[:, None, None, :].bool().expand(batch, 1, seq, seq)
        pos = torch.arange(seq, device=input_ids.device)
        near = ((pos[:, None] - pos[None, :]).abs() < self.model.config.sliding_window)[None, None]
        lowest = torch.finfo(torch.float32).min
        zero = torch.zeros((), dtype=torch.float32)
        masks = {"full_attention": torch.where(keys, zero, lowest),
                 "sliding_attention": torch.where(keys & near, zero, lowest)}
        return self.model(input_ids=input_ids, attention_mask=masks, use_cache=False).last_hidden_state


class SentenceEmbedding(torch.nn.Module):
    """The whole sentence-transformers pipeline as one graph, as sentence-transformers'
    and Optimum's ONNX/OpenVINO exports and TEI run it: the network's token states, then
    the folder's own modules after it (Pooling, Dense, Normalize), so only `[batch, dim]`
    leaves the framework and the head's cost is in every backend's latency."""

    def __init__(self, encoder: torch.nn.Module, head: list[torch.nn.Module]):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.ModuleList(head)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        features = {"token_embeddings": self.encoder(input_ids, attention_mask, token_type_ids),
                    "attention_mask": attention_mask}
        for module in self.head:
            features = module(features)
        return features["sentence_embedding"]


def sentence_embedding(hf: pathlib.Path, names: list[str]) -> tuple[SentenceEmbedding, str]:
    """The folder's SentenceTransformer as a [`SentenceEmbedding`] (its network's weights,
    its own head modules) and a description of the pipeline."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(hf), device="cpu").eval()
    modules = list(st)
    if not modules or type(modules[0]).__name__ != "Transformer":
        fail(f"{hf}/modules.json: the pipeline does not start with a Transformer module",
             "convert a sentence-transformers text model")
    network = modules[0].auto_model.float().eval()
    config = network.config
    if config.model_type == "gemma3_text" and getattr(config, "use_bidirectional_attention", False):
        encoder = BidirectionalGemma3(network)
    else:
        encoder = LastHiddenState(network, names)
    head = modules[1:]
    return SentenceEmbedding(encoder, head).eval(), " -> ".join(type(m).__name__ for m in modules)


def sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_inputs(tokenizer, names: list[str], max_len: int) -> list[dict[str, np.ndarray]]:
    """A few verification batches: one long padded batch, one short, one single sentence."""
    cases = [PROBES, PROBES[:3], [PROBES[4]]]
    out = []
    for texts in cases:
        enc = tokenizer(texts, padding=True, truncation=True, max_length=max_len, return_tensors="np")
        out.append({n: enc[n].astype(np.int64) for n in names})
    return out


def max_abs_diff(run, reference: list[np.ndarray], inputs: list[dict[str, np.ndarray]]) -> float:
    worst = 0.0
    for ref, feed in zip(reference, inputs):
        got = run(feed)
        if got.shape != ref.shape:
            fail(f"export returned shape {got.shape}, PyTorch {ref.shape}", "re-run the conversion; report a bug")
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def ort_throughput(path: pathlib.Path, names: list[str], seconds: float = 3.0) -> float:
    """Sentences/s of ONNX Runtime at batch 1, seq 128, 2 intra-op threads (exporter choice)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {n: np.ones((1, 128), dtype=np.int64) if n != "token_type_ids" else np.zeros((1, 128), np.int64)
            for n in names}
    for _ in range(5):
        sess.run(None, feed)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sess.run(None, feed)
        n += 1
    return n / (time.perf_counter() - start)


def export_onnx(wrapper, example, names, path: pathlib.Path, exporter: str, output: str = OUTPUT,
                axes: dict | None = None) -> None:
    """Exports `wrapper` (inputs `names`, one output `output` [batch, dim]) at opset OPSET and
    checks the file; `axes` are the inputs' dynamic axes for the legacy exporter (default:
    batch and sequence on each; the dynamo exporter always makes those two dynamic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = dict(axes or {n: {0: "batch", 1: "sequence"} for n in names})
    axes[output] = {0: "batch"}
    kwargs = dict(input_names=names, output_names=[output], opset_version=OPSET)
    if exporter == "legacy":
        torch.onnx.export(wrapper, example, str(path), dynamic_axes=axes, dynamo=False, **kwargs)
    else:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=4096)
        shapes = {n: {0: batch, 1: seq} for n in names}
        # Weights past protobuf's 2 GiB limit (BGE-M3, Qwen3-Embedding-0.6B in fp32) go to
        # model.onnx.data beside the graph; the legacy exporter does that by itself.
        large = sum(p.numel() * p.element_size() for p in wrapper.parameters()) > 1_800_000_000
        torch.onnx.export(wrapper, example, str(path), dynamic_shapes=shapes, dynamo=True, external_data=large,
                          **kwargs)
    import onnx

    # By path, so that a model with external data (over 2 GiB) is checked too.
    onnx.checker.check_model(str(path))
    model = onnx.load(str(path), load_external_data=False)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < OPSET:
        fail(f"{path}: opset {opset} < {OPSET}", "upgrade torch in the venv (scripts/setup_environment.sh)")


def run_ovc(onnx_path: pathlib.Path, xml: pathlib.Path, compress_to_fp16: bool) -> None:
    """OpenVINO IR from a verified ONNX file with ovc, as a user would run it: fp16-compressed
    weights, or exact fp32 ones (`--compress_to_fp16=False`; ovc's default compresses)."""
    xml.parent.mkdir(parents=True, exist_ok=True)
    ovc = pathlib.Path(sys.executable).parent / "ovc"
    subprocess.run([str(ovc), str(onnx_path), "--output_model", str(xml), f"--compress_to_fp16={compress_to_fp16}"],
                   check=True, stdout=subprocess.DEVNULL)


def openvino_feed(compiled, feed: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """`feed` keyed by the compiled model's input ports: a port is matched when the name is
    one of its names (`port.get_names()`): ovc may fold a no-op Cast after an input, so
    `get_any_name()` can be another name, and feeding a name no port has silently gave an
    empty output. A port no name of `feed` matches is an error."""
    out = {}
    for i, port in enumerate(compiled.inputs):
        names = port.get_names()
        match = [n for n in feed if n in names]
        if not match:
            raise KeyError(f"the model's input {sorted(names)} is none of the inputs given ({', '.join(feed)})")
        out[i] = feed[match[0]]
    return out


def export_torchscript(wrapper, example, names: list[str], path: pathlib.Path):
    """Traces `wrapper` on `example` into `path`, reloads it, and returns a function running
    the reloaded module on a feed of numpy arrays by `names` (for verification)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        traced = torch.jit.trace(wrapper, example, check_trace=False)
    traced.save(str(path))
    loaded = torch.jit.load(str(path)).eval()

    def run(feed):
        with torch.inference_mode():
            return loaded(*(torch.from_numpy(feed[n]) for n in names)).numpy()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>: holds pytorch/ and receives the exports")
    ap.add_argument("--max-length", type=int, default=256, help="max_seq_length of the model (models.yaml)")
    ap.add_argument("--exporter", choices=["legacy", "dynamo", "compare"], default="legacy",
                    help="ONNX exporter; 'compare' exports with both, times ONNX Runtime and keeps the faster")
    args = ap.parse_args()

    from transformers import AutoTokenizer
    import onnxruntime
    import openvino

    root: pathlib.Path = args.root.resolve()
    hf = root / "pytorch"
    if not (hf / "config.json").is_file():
        fail(f"{hf}/config.json does not exist", f"scripts/convert_models.sh <key> fetches the folder into {hf}")
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = AutoTokenizer.from_pretrained(hf)
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    wrapper, pipeline = sentence_embedding(hf, names)
    inputs = check_inputs(tokenizer, names, args.max_length)
    with torch.inference_mode():
        reference = [wrapper(*(torch.from_numpy(f[n]) for n in names)).numpy() for f in inputs]
    example = tuple(torch.from_numpy(inputs[1][n]) for n in names)
    record: dict = {
        "converter_version": CONVERTER_VERSION,
        "source_sha256": sha256(hf / "model.safetensors") if (hf / "model.safetensors").is_file() else None,
        "inputs": names,
        "output": OUTPUT,
        "pipeline": pipeline,
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                     "openvino": openvino.__version__, "transformers": __import__("transformers").__version__,
                     "onnx": __import__("onnx").__version__},
        "fp32_tolerance": FP32_TOLERANCE,
        "artifacts": {},
    }

    # ONNX
    onnx_path = root / "onnx" / "model.onnx"
    t0 = time.perf_counter()
    if args.exporter == "compare":
        speeds = {}
        for exporter in ("legacy", "dynamo"):
            candidate = root / "onnx" / f"model.{exporter}.onnx"
            export_onnx(wrapper, example, names, candidate, exporter)
            speeds[exporter] = ort_throughput(candidate, names)
            print(f"onnx exporter {exporter}: {speeds[exporter]:.1f} sentences/s (ORT, batch 1, seq 128, 2 threads)")
        chosen = max(speeds, key=speeds.get)
        (root / "onnx" / f"model.{chosen}.onnx").replace(onnx_path)
        (root / "onnx" / f"model.{'dynamo' if chosen == 'legacy' else 'legacy'}.onnx").unlink()
        record["exporter_comparison_sentences_per_s"] = speeds
    else:
        chosen = args.exporter
        export_onnx(wrapper, example, names, onnx_path, chosen)
    sess = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diff = max_abs_diff(lambda f: sess.run(None, f)[0], reference, inputs)
    record["artifacts"]["onnx"] = {"path": "onnx/model.onnx", "exporter": f"torch.onnx.export ({chosen})",
                                   "opset": OPSET, "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
    print(f"onnx: {onnx_path} (exporter {chosen}, opset {OPSET}), max abs diff vs PyTorch {diff:.2e}")
    if diff > FP32_TOLERANCE:
        fail(f"ONNX export differs from PyTorch by {diff:.2e} > {FP32_TOLERANCE}", "check the exporter version")

    # OpenVINO IR, from the verified ONNX file, with ovc (as a user would run it).
    core = openvino.Core()
    for variant, compress in (("fp32", "False"), ("fp16", "True")):
        t0 = time.perf_counter()
        xml = root / "openvino" / f"model_{variant}.xml"
        run_ovc(onnx_path, xml, compress == "True")
        compiled = core.compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        diff = max_abs_diff(lambda f: compiled(f)[0], reference, inputs)
        record["artifacts"][f"openvino_{variant}"] = {
            "path": f"openvino/model_{variant}.xml", "tool": f"ovc --compress_to_fp16={compress}",
            "weights": variant, "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
        print(f"openvino {variant} weights: {xml}, max abs diff vs PyTorch {diff:.2e} (computed in f32)")
        if variant == "fp32" and diff > FP32_TOLERANCE:
            fail(f"fp32 IR differs from PyTorch by {diff:.2e} > {FP32_TOLERANCE}", "check the openvino version")

    # TorchScript, traced on one shape and verified on the others.
    t0 = time.perf_counter()
    ts_path = root / "torchscript" / "model.pt"
    run_ts = export_torchscript(wrapper, example, names, ts_path)
    diff = max_abs_diff(run_ts, reference, inputs)
    record["artifacts"]["torchscript"] = {"path": "torchscript/model.pt", "tool": "torch.jit.trace",
                                          "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
    print(f"torchscript: {ts_path}, max abs diff vs PyTorch {diff:.2e}")
    if diff > FP32_TOLERANCE:
        fail(f"TorchScript export differs from PyTorch by {diff:.2e}", "check the torch version")

    # Reference embeddings of the probe set: natural length, and each usual fixed length the model holds.
    positions = usable_positions(json.loads((hf / "config.json").read_text()))
    lens = [n for n in DEFAULT_SEQ_LENS if positions is None or n <= positions]
    written = write_references(root, args.max_length, lens, natural=True)
    record["reference"] = {"path": "reference.json", "sentences": len(PROBES), "seq_lens": lens,
                           "files": written}
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (root / "conversion.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"reference embeddings: {', '.join(written)} in {root}")


if __name__ == "__main__":
    main()
