#!/usr/bin/env bash
# Converts a model of configs/models.yaml (or --models-file F) for every backend:
# its folder ('path', else ../models/<key> from the models file) gets pytorch/ from the
# Hub, then ONNX, OpenVINO IR (fp32, fp16), TorchScript, each checked against PyTorch,
# and the probe set's reference embeddings; for text models also the retrieval corpus's
# fp32 vectors and int8/fp16 variants. Up-to-date conversions are left alone.
# CLIP and SigLIP (config.json's model_type) are converted tower by tower (text, vision).
# Usage: scripts/convert_models.sh [-h] [--force] [--exporter legacy|dynamo|compare] [--models-file F] <model-key>
set -euo pipefail

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

force=false
exporter=legacy
key=""
models_file=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --force) force=true ;;
        --exporter) exporter="${2:?--exporter needs a value}"; shift ;;
        --models-file) models_file="${2:?--models-file needs a value}"; shift ;;
        -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) key="$1" ;;
    esac
    shift
done
[[ -n "$key" ]] || { usage >&2; exit 2; }
[[ "$exporter" == "compare" ]] && force=true

root="$(cd "$(dirname "$0")/.." && pwd)"
python="$root/.venv/bin/python"
if [[ ! -x "$python" ]]; then
    echo "error: $root/.venv does not exist." >&2
    echo "fix: run scripts/setup_environment.sh --venv-only (or make venv) first." >&2
    exit 1
fi

# The model's folder and settings, from the models file.
models_file="${models_file:-$root/configs/models.yaml}"
[[ -f "$models_file" ]] || { echo "error: $models_file does not exist." >&2; exit 2; }
IFS=$'\t' read -r dest hf_id max_len < <("$python" - "$models_file" "$key" <<'PY'
import os, pathlib, sys, yaml
# Lexically absolute (links not followed), as embench resolves the same paths.
path, key = pathlib.Path(os.path.abspath(sys.argv[1])), sys.argv[2]
models = yaml.safe_load(path.read_text())["models"]
if key not in models:
    sys.exit(f"error: model '{key}' is not in {path}\nfix: use one of: {', '.join(models)}")
m = models[key]
folder = os.path.normpath(path.parent / m["path"] if m.get("path") else path.parent / ".." / "models" / key)
print(folder, m.get("huggingface_id") or "-", m.get("max_seq_length", 512), sep="\t")
PY
)

if [[ ! -s "$dest/pytorch/config.json" ]]; then
    if [[ "$key" == "all-minilm-l6-v2" ]]; then
        "$root/scripts/fetch_model.sh" "$key" "$dest"
    elif [[ "$hf_id" != "-" ]]; then
        echo "model $key: downloading $hf_id from the Hugging Face Hub into $dest/pytorch"
        "$python" - "$hf_id" "$dest/pytorch" <<'PY' || {
import sys
from huggingface_hub import snapshot_download
snapshot_download(sys.argv[1], local_dir=sys.argv[2])
PY
            echo "error: could not download $hf_id (offline, or the model needs a token)." >&2
            echo "fix: put its Hugging Face folder at $dest/pytorch, or log in with 'huggingface-cli login'." >&2
            exit 1
        }
    else
        echo "error: $dest/pytorch/config.json does not exist and '$key' has no huggingface_id." >&2
        echo "fix: put the model's Hugging Face folder at $dest/pytorch." >&2
        exit 1
    fi
fi

# The converter of the folder's model type: multimodal models tower by tower, text models whole.
model_type="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("model_type", ""))' \
    "$dest/pytorch/config.json")"
case "$model_type" in
    clip | siglip) converter="$root/scripts/python/convert_multimodal.py" ;;
    *) converter="$root/scripts/python/convert_model.py" ;;
esac

# Up to date when conversion.json names this converter version and these weights.
if ! $force && [[ -s "$dest/conversion.json" ]] && "$python" - "$dest" "$converter" <<'PY'
import hashlib, json, pathlib, re, sys
dest, script = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
record = json.loads((dest / "conversion.json").read_text())
version = int(re.search(r"^CONVERTER_VERSION = (\d+)", script.read_text(), re.M).group(1))
weights = dest / "pytorch" / "model.safetensors"
digest = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None
files = [dest / a["path"] for a in record["artifacts"].values()] + [dest / "reference.json"]
files += [dest / f for f in record.get("reference", {}).get("files", [])]
# Multimodal models: references/image.json, image_pixels.f32 and the probe images.
files += [dest / f for f in record.get("image_reference", {}).get("files", [])]
sys.exit(0 if record.get("converter_version") == version and record.get("source_sha256") == digest
         and all(f.is_file() for f in files) else 1)
PY
then
    echo "model $key: conversions up to date in $dest (--force redoes them)"
else
    echo "model $key: converting into $dest"
    "$python" "$converter" "$dest" --max-length "$max_len" --exporter "$exporter"
fi

# Text models: the retrieval-agreement corpus with sentence-transformers' fp32 vectors,
# then the reduced-precision variants, each with its framework's own tool: ONNX Runtime's
# (int8 dynamic and static, fp16), NNCF's for OpenVINO (int8 post-training quantisation,
# int8 weights) and PyTorch's dynamic int8 TorchScript. Each step leaves an up-to-date
# result alone, and records a variant its tool could not make with the tool's error.
# CLIP and SigLIP have neither (yet).
case "$model_type" in
    clip | siglip) ;;
    *)
        flags=()
        $force && flags+=(--force)
        "$python" "$root/scripts/python/retrieval_corpus.py" "$dest" --max-length "$max_len" "${flags[@]}"
        "$python" "$root/scripts/python/quantize_onnx.py" "$dest" --max-length "$max_len" "${flags[@]}"
        "$python" "$root/scripts/python/quantize_openvino.py" "$dest" --max-length "$max_len" "${flags[@]}"
        "$python" "$root/scripts/python/quantize_torch.py" "$dest" "${flags[@]}"
        ;;
esac
