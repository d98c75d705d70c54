#!/usr/bin/env bash
# Cloud-init user data for an embench box (a terraform templatefile: the
# lower-case $${...} names below are filled in by terraform).
# Logs to /var/log/embench-setup.log; on failure the log ends with "FAILED".
set -euo pipefail
exec > >(tee -a /var/log/embench-setup.log) 2>&1
trap 'echo "embench set-up FAILED at line $LINENO (see /var/log/embench-setup.log)"' ERR

# shellcheck disable=SC2154  # template variables
REPO_URL="${repo_url}"
# shellcheck disable=SC2154
GIT_REF="${git_ref}"
# shellcheck disable=SC2154
BENCHMARK_CONFIG="${benchmark_config}"
# shellcheck disable=SC2154
RUN_BENCHMARKS="${run_benchmarks}"
# shellcheck disable=SC2154
RESULTS_BUCKET="${results_bucket}"
# shellcheck disable=SC2154
INSTANCE_NAME="${instance_name}"

echo "embench set-up of $INSTANCE_NAME started $(date -u +%FT%TZ)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# python3.11: the pinned wheels (onnxruntime 1.31, numpy 2.4) need Python >= 3.11, and
# Ubuntu 22.04's python3 is 3.10; scripts/setup_environment.sh picks python3.11.
apt-get install -y -q build-essential pkg-config git curl python3 python3-venv python3-pip \
    python3.11 python3.11-venv unzip

# AWS CLI v2 for the results upload (only when a bucket is set).
if [[ -n "$RESULTS_BUCKET" ]]; then
    arch=$(uname -m)
    curl -fsSL "https://awscli.amazonaws.com/awscli-exe-linux-$arch.zip" -o /tmp/awscliv2.zip
    unzip -q -o /tmp/awscliv2.zip -d /tmp
    /tmp/aws/install --update
fi

sudo -u ubuntu -H bash -euo pipefail <<SETUP
curl -fsSL https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt
source "\$HOME/.cargo/env"
if [[ ! -d "\$HOME/embench/.git" ]]; then
    git clone "$REPO_URL" "\$HOME/embench"
fi
cd "\$HOME/embench"
git fetch --all --tags
git checkout "$GIT_REF"
scripts/setup_environment.sh
SETUP

if [[ "$RUN_BENCHMARKS" == "true" ]]; then
    sudo -u ubuntu -H env EMBENCH_RESULTS_BUCKET="$RESULTS_BUCKET" bash -euo pipefail -c \
        "source \$HOME/.cargo/env && cd \$HOME/embench && scripts/run_all_benchmarks.sh --config '$BENCHMARK_CONFIG'"
fi
echo "embench set-up of $INSTANCE_NAME finished $(date -u +%FT%TZ)"
