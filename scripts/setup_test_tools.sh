#!/usr/bin/env bash
# Creates .venv-tools/ with the infrastructure test tools (checkov, moto, boto3)
# from scripts/requirements-tools.txt. Idempotent: skips pip when the pinned
# requirements are already installed.
# Usage: scripts/setup_test_tools.sh [-h]
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-tools"
req="$root/scripts/requirements-tools.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "test tools: already in $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "test tools: ready in $venv"
