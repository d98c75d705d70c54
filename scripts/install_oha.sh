#!/usr/bin/env bash
# Installs oha (https://github.com/hatoo/oha, crates.io), the HTTP load generator
# `make bench-http-peers` compares embench's http client with, into .tools/oha/.
# Pinned: a figure compared across runs must come from the same client.
set -euo pipefail

OHA_VERSION="${OHA_VERSION:-1.14.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.tools/oha"
BIN="$DEST/bin/oha"

if [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | grep -q " ${OHA_VERSION}\$"; then
    echo "oha ${OHA_VERSION}: $BIN"
    exit 0
fi
command -v cargo >/dev/null || { echo "error: cargo is not on PATH (fix: install Rust, https://rustup.rs)" >&2; exit 1; }
echo "installing oha ${OHA_VERSION} into $DEST (a few minutes on 2 cores)"
# --locked: oha's own Cargo.lock, as released.
cargo install --quiet --locked --version "=${OHA_VERSION}" --root "$DEST" oha
"$BIN" --version
