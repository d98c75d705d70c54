#!/usr/bin/env bash
# Builds the ort-native backend's worker (crates/embench-ort-native/cpp/) with ONNX
# Runtime's official C/C++ headers into .tools/ort-native/ort-native-worker.
# Headers: $ORT_NATIVE_HEADERS (an include/ directory) if set, else those that
# scripts/python/fetch_ort_headers.py fetches for the runtime's version (the venv's
# onnxruntime, or the library $ORT_DYLIB_PATH names): its release archive where
# reachable, else Debian's libonnxruntime-dev; Debian's are replaced by the release
# archive's once a later build reaches it.
# Idempotent: rebuilds only when the source, the headers or the runtime changed.
# Usage: scripts/build_ort_native.sh [-h]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

caller="$PWD"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out=.tools/ort-native
source_file=crates/embench-ort-native/cpp/ort_native_worker.cpp
cxx="${CXX:-g++}"

if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "error: no C++ compiler ('$cxx') for the ort-native worker." >&2
    echo "fix: install one (Debian/Ubuntu: apt-get install g++), or set CXX." >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    echo "error: no project virtualenv (.venv/bin/python): the worker runs the venv's onnxruntime." >&2
    echo "fix: make venv" >&2
    exit 1
fi
# The runtime the worker will dlopen: the one the ort backend loads.
if [[ -n "${ORT_DYLIB_PATH:-}" ]]; then
    if [[ ! -f "$ORT_DYLIB_PATH" ]]; then
        echo "error: ORT_DYLIB_PATH=$ORT_DYLIB_PATH is not a file." >&2
        echo "fix: point it at libonnxruntime.so.X.Y.Z, or unset it for the venv's onnxruntime." >&2
        exit 1
    fi
    # A symlink names the file it points at: its version is the real file's.
    runtime="$(basename "$(readlink -f "$ORT_DYLIB_PATH")" | sed -n 's/^libonnxruntime\.so\.\([0-9][0-9.]*\)$/\1/p')"
    if [[ -z "$runtime" ]]; then
        echo "error: ORT_DYLIB_PATH=$ORT_DYLIB_PATH does not name its version (libonnxruntime.so.X.Y.Z)." >&2
        echo "fix: point it at the versioned file, or set ORT_NATIVE_HEADERS to that release's include/ directory." >&2
        exit 1
    fi
else
    runtime="$(.venv/bin/python -c 'import onnxruntime; print(onnxruntime.__version__)')"
fi

mkdir -p "$out"
if [[ -n "${ORT_NATIVE_HEADERS:-}" ]]; then
    include="$(cd "$caller" && cd "$ORT_NATIVE_HEADERS" 2>/dev/null && pwd || echo "$ORT_NATIVE_HEADERS")"
    if [[ ! -f "$include/onnxruntime_cxx_api.h" ]]; then
        echo "error: ORT_NATIVE_HEADERS=$include has no onnxruntime_cxx_api.h." >&2
        echo "fix: point it at the include/ directory of ONNX Runtime's release archive, or unset it." >&2
        exit 1
    fi
    # A release archive keeps its version beside include/; otherwise the C API version says it.
    if [[ -f "$include/../VERSION_NUMBER" ]]; then
        version="$(tr -d '[:space:]' <"$include/../VERSION_NUMBER")"
    else
        version="C API $(sed -n 's/^#define ORT_API_VERSION \([0-9]*\).*/\1/p' "$include/onnxruntime_c_api.h")"
    fi
    headers="$version (ORT_NATIVE_HEADERS=$include)"
else
    include="$out/headers/include"
    if [[ ! -f "$out/headers/headers.json" ]] \
        || ! grep -q "\"runtime\": \"$runtime\"" "$out/headers/headers.json"; then
        .venv/bin/python scripts/python/fetch_ort_headers.py --runtime-version "$runtime" --dest "$out/headers"
    elif ! grep -q "\"version\": \"$runtime\"" "$out/headers/headers.json"; then
        # Headers of another version than the runtime's: the exact ones if reachable now.
        if .venv/bin/python scripts/python/fetch_ort_headers.py --runtime-version "$runtime" \
            --dest "$out/headers.exact" --release-only 2>/dev/null; then
            rm -rf "$out/headers" && mv "$out/headers.exact" "$out/headers"
        fi
    fi
    headers="$(.venv/bin/python -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["version"] + " (" + m["source"] + ")")' "$out/headers/headers.json")"
fi

want="$(cat "$source_file" "$include/onnxruntime_c_api.h" | sha256sum | cut -c1-16) $headers; runtime $runtime; $("$cxx" --version | head -1)"
if [[ -x "$out/ort-native-worker" && -f "$out/build.stamp" && "$(cat "$out/build.stamp")" == "$want" ]]; then
    echo "ort-native worker up to date: $out/ort-native-worker (headers $headers)"
    exit 0
fi
# A failed compile must not leave an older worker to be run as if it were this one.
rm -f "$out/ort-native-worker" "$out/build.stamp"
# The description as a C string literal.
literal="${headers//\\/\\\\}"
literal="${literal//\"/\\\"}"
# No link to libonnxruntime: the worker dlopen()s the library the ort backend loads.
"$cxx" -O2 -std=c++17 -Wall -Wextra -I"$include" \
    -DEMBENCH_ORT_HEADERS="\"$literal\"" \
    "$source_file" -ldl -o "$out/ort-native-worker.tmp"
mv "$out/ort-native-worker.tmp" "$out/ort-native-worker"
echo "$want" >"$out/build.stamp"
echo "built $out/ort-native-worker (ONNX Runtime headers $headers; runtime $runtime)"
