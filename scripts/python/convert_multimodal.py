#!/usr/bin/env python3
"""Converts one multimodal model folder (CLIP, SigLIP: pytorch/config.json's model_type
`clip` or `siglip`) tower by tower into the formats embench's backends load, verifies
every export against transformers, and writes the probe sets' reference embeddings.

    <root>/pytorch/                       the Hugging Face folder (input): CLIPModel / SiglipModel,
                                          tokenizer, preprocessor_config.json
    <root>/onnx/text_model.onnx           inputs input_ids [batch, sequence] int64 (and, CLIP only,
                                          attention_mask); output `text_embeds` [batch, dim]:
                                          get_text_features(...).pooler_output, L2-normalised
    <root>/onnx/vision_model.onnx         input pixel_values [batch, 3, H, W] float32; output
                                          `image_embeds` [batch, dim]: get_image_features(...)
                                          .pooler_output, L2-normalised
    <root>/openvino/{text,vision}_model_fp32.xml|.bin  exact fp32 IR (ovc --compress_to_fp16=False)
    <root>/openvino/{text,vision}_model_fp16.xml|.bin  IR with fp16-compressed weights (ovc's default)
    <root>/torchscript/{text,vision}_model.pt          traced TorchScript modules
    <root>/reference.json                 the text probes at natural length (ReferenceSet format)
    <root>/references/seq_N.json          the text probes and long texts at N tokens
    <root>/references/images/probe_<i>.png          the image probes (seeded, photo-like, RGB)
    <root>/references/image_pixels.f32    their pixel tensor: little-endian float32 [8, 3, H, W],
                                          made by the folder's image processor (PIL-based class)
    <root>/references/image.json          their image embeddings
    <root>/conversion.json                what made each file: exporter, versions, max abs diffs,
                                          and `towers` (each tower's inputs, output and shape)

Text inputs follow the real models' usage: CLIP's tokenizer pads right with
<|endoftext|> and passes the attention mask (its text tower pools the first
<|endoftext|>); SigLIP's pads with </s> to 64 (`padding="max_length"`) and passes no
mask (its text tower pools the last position, so padding and mask change the vector).

Called by scripts/convert_models.sh for these model types; run that instead.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from convert_model import (  # noqa: E402
    FP32_TOLERANCE, OPSET, export_onnx, export_torchscript, fail, max_abs_diff, openvino_feed, run_ovc, sha256,
)
from make_references import (  # noqa: E402
    DEFAULT_SEQ_LENS, PROBES, long_texts, probe_images, write_json, write_set,
)

# Bump when the outputs change, so convert_models.sh redoes existing conversions.
CONVERTER_VERSION = 1
SCRIPT = "scripts/python/convert_multimodal.py"
# transformers' classes of each model type, and the PIL-based image processor (the
# default class in transformers 5 needs torchvision).
KINDS = {
    "clip": {"model": "CLIPModel", "processor": "CLIPImageProcessorPil", "mask": True, "fixed_length": None},
    "siglip": {"model": "SiglipModel", "processor": "SiglipImageProcessorPil", "mask": False, "fixed_length": 64},
}
TEXT_OUTPUT = "text_embeds"
IMAGE_OUTPUT = "image_embeds"


class TextTower(torch.nn.Module):
    """The text tower as the model's users call it: `get_text_features(...).pooler_output`
    (transformers 5.23 returns an output object), L2-normalised; the attention mask only
    where the model takes one (CLIP; SigLIP is called without)."""

    def __init__(self, model: torch.nn.Module, with_mask: bool):
        super().__init__()
        self.model = model
        self.with_mask = with_mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        given = {"input_ids": input_ids}
        if self.with_mask:
            given["attention_mask"] = attention_mask
        return torch.nn.functional.normalize(self.model.get_text_features(**given).pooler_output, dim=-1)


class ImageTower(torch.nn.Module):
    """The image tower: `get_image_features(pixel_values).pooler_output`, L2-normalised."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.model.get_image_features(pixel_values=pixel_values).pooler_output,
                                             dim=-1)


class TextPolicy:
    """How the model's users tokenize: CLIP pads right with its pad token (<|endoftext|>)
    and passes the mask; SigLIP pads with its pad token (</s>) to 64 and passes no mask."""

    def __init__(self, tokenizer, model_type: str, positions: int):
        self.tokenizer = tokenizer
        self.mask = KINDS[model_type]["mask"]
        self.fixed = KINDS[model_type]["fixed_length"]
        self.positions = positions
        self.names = ["input_ids", "attention_mask"] if self.mask else ["input_ids"]
        pad = tokenizer.pad_token_id
        if pad is None:
            fail("the tokenizer has no pad token", "set pad_token in pytorch/tokenizer_config.json")
        self.pad = pad
        # CLIP pools the first eos_token_id of each row: every row must hold it.
        self.pooled = tokenizer.eos_token_id if model_type == "clip" else None

    def encode(self, texts: list[str], seq_len: int | None = None,
               padding: str | None = None) -> dict[str, np.ndarray]:
        """`texts` truncated at `seq_len` (None: the model's positions) and padded to the
        batch's longest (CLIP at natural length), to `seq_len` (CLIP at a fixed length), or
        to the fixed length (SigLIP); `padding="longest"` pads any model to the longest."""
        cut = seq_len or self.positions
        enc = self.tokenizer(texts, truncation=True, max_length=cut)
        ids = enc["input_ids"]
        if padding == "longest" or (self.fixed is None and seq_len is None):
            width = max(len(r) for r in ids)
        elif self.fixed is None:
            width = seq_len
        else:
            width = self.fixed
        out = np.full((len(ids), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            if self.pooled is not None and self.pooled not in row:
                fail(f"text {i} has no {self.tokenizer.eos_token} (id {self.pooled}) after tokenizing",
                     "the tokenizer must append its eos token, as CLIP's does")
            out[i, :len(row)] = row
            mask[i, :len(row)] = 1
        return {"input_ids": out, "attention_mask": mask} if self.mask else {"input_ids": out}

    def padding_policy(self, seq_len: int | None) -> str:
        pad = self.tokenizer.pad_token
        if self.fixed is None:
            width = "the batch's longest" if seq_len is None else str(seq_len)
            return (f"truncated at {seq_len or self.positions}, padded right with {pad} (id {self.pad}) to "
                    f"{width}, attention_mask passed")
        return (f"truncated at {seq_len or self.positions}, padded right with {pad} (id {self.pad}) to "
                f"{self.fixed} (padding='max_length'), no attention_mask")


def load(hf: pathlib.Path):
    """The folder's model (eager, fp32), tokenizer and PIL-based image processor."""
    import transformers

    config = json.loads((hf / "config.json").read_text())
    model_type = config.get("model_type")
    if model_type not in KINDS:
        fail(f"{hf}/config.json: model_type '{model_type}' is not a multimodal model this converter runs "
             f"({', '.join(KINDS)})", "convert text models with convert_model.py (scripts/convert_models.sh does)")
    kind = KINDS[model_type]
    model = getattr(transformers, kind["model"]).from_pretrained(hf).float().eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf)
    if not (hf / "tokenizer.json").is_file():
        # embench's Rust tokenizer reads tokenizer.json; a Hub folder that ships only a
        # SentencePiece model (SigLIP's spiece.model) gets the fast tokenizer's file.
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            fail(f"{hf} has no tokenizer.json and transformers loaded a slow tokenizer it cannot write one from",
                 "pip install sentencepiece protobuf into the venv, then re-run scripts/convert_models.sh")
        backend.save(str(hf / "tokenizer.json"))
        print(f"tokenizer: wrote {hf / 'tokenizer.json'} from {type(tokenizer).__name__}")
    processor = getattr(transformers, kind["processor"]).from_pretrained(hf)
    return model_type, config, model, tokenizer, processor


def image_batches(pixels: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Verification batches of the image tower: all probes, three, one."""
    return [{"pixel_values": np.ascontiguousarray(p)} for p in (pixels, pixels[:3], pixels[4:5])]


def verify(name: str, run, reference: list[np.ndarray], inputs: list[dict[str, np.ndarray]],
           strict: bool = True) -> float:
    diff = max_abs_diff(run, reference, inputs)
    if strict and diff > FP32_TOLERANCE:
        fail(f"{name} differs from transformers by {diff:.2e} > {FP32_TOLERANCE}",
             "check the torch, onnxruntime and openvino versions (scripts/requirements.txt)")
    return diff


def export_tower(root: pathlib.Path, tower: str, stem: str, wrapper: torch.nn.Module, names: list[str],
                 output: str, axes: dict, inputs: list[dict[str, np.ndarray]], example_index: int,
                 artifacts: dict) -> int:
    """ONNX, OpenVINO IR (fp32, fp16) and TorchScript of one tower, each checked against
    the wrapper in eager mode on `inputs` (traced on `inputs[example_index]`); records each
    in `artifacts` and returns the tower's embedding size."""
    import onnxruntime
    import openvino

    with torch.inference_mode():
        reference = [wrapper(*(torch.from_numpy(f[n]) for n in names)).numpy() for f in inputs]
    example = tuple(torch.from_numpy(inputs[example_index][n]) for n in names)

    t0 = time.perf_counter()
    onnx_path = root / "onnx" / f"{stem}.onnx"
    export_onnx(wrapper, example, names, onnx_path, "legacy", output=output, axes=axes)
    sess = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    diff = verify(f"{onnx_path.name}", lambda f: sess.run(None, f)[0], reference, inputs)
    artifacts[f"{tower}_onnx"] = {"path": f"onnx/{stem}.onnx", "tool": "torch.onnx.export (legacy)", "opset": OPSET,
                                  "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
    print(f"{tower} onnx: {onnx_path} (opset {OPSET}), max abs diff vs transformers {diff:.2e}")

    core = openvino.Core()
    for variant, compress in (("fp32", False), ("fp16", True)):
        t0 = time.perf_counter()
        xml = root / "openvino" / f"{stem}_{variant}.xml"
        run_ovc(onnx_path, xml, compress)
        compiled = core.compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        diff = verify(f"{xml.name}", lambda f: compiled(openvino_feed(compiled, f))[0], reference, inputs,
                      strict=variant == "fp32")
        artifacts[f"{tower}_openvino_{variant}"] = {
            "path": f"openvino/{stem}_{variant}.xml", "tool": f"ovc --compress_to_fp16={compress}",
            "weights": variant, "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
        print(f"{tower} openvino {variant} weights: {xml}, max abs diff vs transformers {diff:.2e} (computed in f32)")

    t0 = time.perf_counter()
    ts_path = root / "torchscript" / f"{stem}.pt"
    run_ts = export_torchscript(wrapper, example, names, ts_path)
    diff = verify(ts_path.name, run_ts, reference, inputs)
    artifacts[f"{tower}_torchscript"] = {"path": f"torchscript/{stem}.pt", "tool": "torch.jit.trace",
                                         "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
    print(f"{tower} torchscript: {ts_path}, max abs diff vs transformers {diff:.2e}")
    return int(reference[0].shape[-1])


def embed_texts(tower: TextTower, policy: TextPolicy, texts: list[str], seq_len: int | None) -> np.ndarray:
    feed = policy.encode(texts, seq_len)
    with torch.inference_mode():
        return tower(*(torch.from_numpy(feed[n]) for n in policy.names)).numpy()


def write_text_references(root: pathlib.Path, model_type: str, tower: TextTower, policy: TextPolicy,
                          seq_lens: list[int]) -> list[str]:
    """reference.json (the probes at natural length) and references/seq_N.json (the probes
    and long texts at N tokens), in make_references.py's ReferenceSet format, embedded by
    transformers itself with the model's usual padding and mask."""
    import transformers

    function = (f"{KINDS[model_type]['model']}.get_text_features("
                f"{', '.join(policy.names)}).pooler_output, L2-normalised")
    written = []
    for seq_len in [None, *seq_lens]:
        texts = PROBES if seq_len is None else PROBES + long_texts(policy.tokenizer, seq_len)
        vectors = embed_texts(tower, policy, texts, seq_len)
        made_with = {"torch": torch.__version__, "transformers": transformers.__version__, "script": SCRIPT,
                     "function": function, "padding": policy.padding_policy(seq_len),
                     "attention_mask": policy.mask, "normalize": True}
        rel = "reference.json" if seq_len is None else f"references/seq_{seq_len}.json"
        write_set(root / rel, root, texts, vectors, seq_len, "", True, policy.positions, made_with=made_with)
        written.append(rel)
    return written


def write_image_references(root: pathlib.Path, model_type: str, tower: ImageTower, processor,
                           pixels: np.ndarray) -> list[str]:
    """references/image.json with the probes' image embeddings (`pixels` is their tensor,
    already written to references/image_pixels.f32)."""
    import transformers

    with torch.inference_mode():
        vectors = tower(torch.from_numpy(pixels)).numpy()
    body = {
        "model": root.name,
        "made_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                      "image_processor": type(processor).__name__, "script": SCRIPT,
                      "function": f"{KINDS[model_type]['model']}.get_image_features(pixel_values).pooler_output, "
                                  "L2-normalised"},
        "images": [f"references/images/probe_{i}.png" for i in range(len(pixels))],
        "pixel_values": "references/image_pixels.f32",
        "shape": list(pixels.shape),
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    }
    write_json(root / "references" / "image.json", body)
    return ["references/image.json"]


def probe_pixels(root: pathlib.Path, processor, size: int) -> tuple[np.ndarray, list[str]]:
    """Writes the image probes as PNG, preprocesses them (read back from the files) with the
    folder's image processor, and writes the tensor to references/image_pixels.f32."""
    from PIL import Image

    folder = root / "references" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, image in enumerate(probe_images()):
        image.save(folder / f"probe_{i}.png")
        written.append(f"references/images/probe_{i}.png")
    images = []
    for rel in written:
        with Image.open(root / rel) as im:
            images.append(im.convert("RGB"))
    pixels = processor(images, return_tensors="np")["pixel_values"].astype("<f4")
    want = (len(images), 3, size, size)
    if pixels.shape != want:
        fail(f"the image processor made pixels of shape {pixels.shape}, the vision tower takes {want}",
             f"set its size and crop_size to {size} in pytorch/preprocessor_config.json")
    path = root / "references" / "image_pixels.f32"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(np.ascontiguousarray(pixels).tobytes())
    tmp.replace(path)
    return np.ascontiguousarray(pixels, dtype=np.float32), written + ["references/image_pixels.f32"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path, help="models/<key>: holds pytorch/ and receives the exports")
    ap.add_argument("--max-length", type=int, default=None,
                    help="max_seq_length of the model (models.yaml); at most the text positions")
    ap.add_argument("--exporter", choices=["legacy", "dynamo", "compare"], default="legacy",
                    help="ONNX exporter; only 'legacy' for multimodal models")
    args = ap.parse_args()
    if args.exporter != "legacy":
        fail(f"--exporter {args.exporter} is not available for multimodal models", "use --exporter legacy")

    import onnxruntime
    import openvino
    import transformers

    root: pathlib.Path = args.root.resolve()
    hf = root / "pytorch"
    if not (hf / "config.json").is_file():
        fail(f"{hf}/config.json does not exist", f"scripts/convert_models.sh <key> fetches the folder into {hf}")
    torch.manual_seed(0)
    model_type, config, model, tokenizer, processor = load(hf)
    text_config, vision_config = model.config.text_config, model.config.vision_config
    positions = text_config.max_position_embeddings
    if args.max_length is not None and args.max_length > positions:
        fail(f"--max-length {args.max_length} is over the text tower's {positions} positions",
             f"set max_seq_length to at most {positions} in models.yaml")
    max_length = min(args.max_length or positions, positions)
    policy = TextPolicy(tokenizer, model_type, max_length)
    size, channels = vision_config.image_size, vision_config.num_channels
    text, image = TextTower(model, policy.mask).eval(), ImageTower(model).eval()

    record: dict = {
        "converter_version": CONVERTER_VERSION,
        "source_sha256": sha256(hf / "model.safetensors") if (hf / "model.safetensors").is_file() else None,
        "architecture": model_type,
        "inputs": policy.names,
        "output": TEXT_OUTPUT,
        "towers": {
            "text": {"inputs": policy.names, "output": TEXT_OUTPUT, "max_positions": positions,
                     "fixed_length": policy.fixed, "dim": None},
            "image": {"inputs": ["pixel_values"], "output": IMAGE_OUTPUT, "image_size": size, "channels": channels,
                      "dim": None},
        },
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                     "openvino": openvino.__version__, "transformers": transformers.__version__,
                     "onnx": __import__("onnx").__version__},
        "fp32_tolerance": FP32_TOLERANCE,
        "artifacts": {},
    }

    # Text tower: natural-length batches of 8, 3 and 1 text padded as the model's users pad
    # them, and (SigLIP) the same padded to the longest only, proving the dynamic sequence axis.
    text_inputs = [policy.encode(t) for t in (PROBES, PROBES[:3], [PROBES[4]])]
    if policy.fixed is not None:
        text_inputs.append(policy.encode(PROBES[:3], padding="longest"))
    text_axes = {n: {0: "batch", 1: "sequence"} for n in policy.names}
    record["towers"]["text"]["dim"] = export_tower(root, "text", "text_model", text, policy.names, TEXT_OUTPUT,
                                                   text_axes, text_inputs, 1, record["artifacts"])

    # Image tower: the probe images, preprocessed by the folder's image processor.
    pixels, image_files = probe_pixels(root, processor, size)
    record["towers"]["image"]["dim"] = export_tower(root, "image", "vision_model", image, ["pixel_values"],
                                                    IMAGE_OUTPUT, {"pixel_values": {0: "batch"}},
                                                    image_batches(pixels), 1, record["artifacts"])

    # Reference embeddings: the text probes at natural length and at each usual length the
    # text tower holds, the image probes at the processor's size.
    lens = [n for n in DEFAULT_SEQ_LENS if n <= max_length]
    written = write_text_references(root, model_type, text, policy, lens)
    image_files = write_image_references(root, model_type, image, processor, pixels) + image_files
    record["reference"] = {"path": "reference.json", "sentences": len(PROBES), "seq_lens": lens, "files": written}
    record["image_reference"] = {"path": "references/image.json", "images": len(pixels),
                                 "image_processor": type(processor).__name__, "files": image_files}
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (root / "conversion.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"reference embeddings: {', '.join(written + image_files[:2])} and the probe images in {root}")


if __name__ == "__main__":
    main()
