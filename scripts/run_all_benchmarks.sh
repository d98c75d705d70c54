#!/usr/bin/env bash
# Sets up, converts every active model of the config, runs the full benchmark and
# writes its report; uploads the run directory when EMBENCH_RESULTS_BUCKET names an S3 bucket.
# Usage: scripts/run_all_benchmarks.sh [-h] [--config FILE] [--out DIR]
#   --config FILE  benchmark config (default configs/benchmark_config.yaml)
#   --out DIR      run directory (default results/<UTC time>-<host>)
set -euo pipefail

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

root="$(cd "$(dirname "$0")/.." && pwd)"
config="configs/benchmark_config.yaml"
out="results/$(date -u +%Y%m%dT%H%M%SZ)-$(uname -n)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --config) config="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$root"
scripts/setup_environment.sh
# Each conversion is skipped when it is up to date. A model that cannot be fetched or
# converted is said here, and `embench run` records its cells as SKIPPED with the reason.
models_file="$(.venv/bin/python -c '
import pathlib, sys, yaml
config = pathlib.Path(sys.argv[1])
print(config.parent / (yaml.safe_load(config.read_text()).get("models_file") or "models.yaml"))' "$config")"
mapfile -t models < <(.venv/bin/python -c '
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
print("\n".join(c.get("active_models") or ([c["active_model"]] if c.get("active_model") else [])))' "$config")
for model in "${models[@]}"; do
    scripts/convert_models.sh --models-file "$models_file" "$model" ||
        echo "warning: could not fetch or convert '$model'; its cells will be SKIPPED (the message above says why)" >&2
done
embench=target/debug/embench
"$embench" validate --config "$config"

status=0
"$embench" run --config "$config" --out "$out" || status=$?
# A run with invalid cells still gets its report: the invalid cells are marked in it.
"$embench" report "$out"

if [[ -n "${EMBENCH_RESULTS_BUCKET:-}" ]]; then
    dest="s3://$EMBENCH_RESULTS_BUCKET/$(basename "$out")/"
    aws s3 cp --recursive "$out" "$dest"
    echo "uploaded $out to $dest"
fi
exit "$status"
