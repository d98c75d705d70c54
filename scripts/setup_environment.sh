#!/usr/bin/env bash
# Prepares a machine to run embench: checks the Rust toolchain, fetches the
# default model and builds the embench binary. Idempotent: a second run that
# finds everything in place takes seconds.
# Usage: scripts/setup_environment.sh [-h]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

for tool in cargo python3 git; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' is not installed." >&2
        echo "fix: install it (Rust from https://rustup.rs, python3 and git from the OS packages)." >&2
        exit 1
    fi
done

scripts/fetch_model.sh all-minilm-l6-v2
cargo build --locked --workspace
echo "embench is ready: target/debug/embench"
