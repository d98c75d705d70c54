#!/usr/bin/env bash
# Prepares a machine to run embench: checks the tools, creates the project
# virtualenv (.venv/) with the native runtimes and exporters pinned in
# scripts/requirements.txt, fetches the default model and builds embench.
# Idempotent: a second run that finds everything in place takes seconds.
# Usage: scripts/setup_environment.sh [-h] [--venv-only]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

for tool in cargo python3 git; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' is not installed." >&2
        echo "fix: install it (Rust from https://rustup.rs, python3 (>= 3.10, with venv) and git from the OS packages)." >&2
        exit 1
    fi
done

# The pinned wheels (onnxruntime 1.31, numpy 2.4) need Python >= 3.11: use $PYTHON,
# or the first interpreter on PATH that is new enough (Ubuntu 22.04's python3 is 3.10;
# its python3.11 package is).
python=""
for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python="$candidate"
        break
    fi
done
if [[ -z "$python" ]]; then
    echo "error: no Python >= 3.11 found (python3 is $(python3 --version 2>&1))." >&2
    echo "fix: install one (Ubuntu 22.04: apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11." >&2
    exit 1
fi

venv="$root/.venv"
requirements="$root/scripts/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "venv: up to date in $venv"
else
    echo "venv: installing $requirements into $venv (torch is large: a few minutes)"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$python" -m venv "$venv" || {
            echo "error: $python -m venv failed." >&2
            echo "fix: install the venv module (Debian/Ubuntu: apt-get install $python-venv, or python3-venv)." >&2
            exit 1
        }
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

if [[ "${1:-}" == "--venv-only" ]]; then
    exit 0
fi
scripts/convert_models.sh all-minilm-l6-v2
# Every backend; tch links the venv's libtorch (see the Makefile's CARGO_ENV).
LIBTORCH_USE_PYTORCH=1 PATH="$venv/bin:$PATH" cargo build --locked --workspace --features embench/tch
# ort-native's C++ worker: ONNX Runtime's release archive of the venv's version where
# the box reaches GitHub (its headers match the library exactly), else Debian's headers.
scripts/build_ort_native.sh || echo "warning: ort-native's worker is not built (reason above); embench validate says so for every config that runs ort-native" >&2
echo "embench is ready: target/debug/embench"
