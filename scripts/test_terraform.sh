#!/usr/bin/env bash
# Infrastructure tests: terraform fmt and validate, checkov, shellcheck, and a
# plan/apply/destroy against a local moto server (127.0.0.1 only; no real AWS).
# Usage: scripts/test_terraform.sh [-h]
# Needs terraform, shellcheck (apt) and .venv-tools (scripts/setup_test_tools.sh).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.venv-tools/bin"
passed=0
failed=0
check() {  # check NAME COMMAND...: runs one check and counts it
    local name="$1"; shift
    if "$@"; then
        echo "ok: $name"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; failed=$((failed + 1))
    fi
}

work=$(mktemp -d)
moto_pid=""
cleanup() {
    if [[ -n "$moto_pid" ]]; then kill "$moto_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# No internet here: use the image's provider mirror when there is one.
plugin_dir=$(find / -path /proc -prune -o -type d -name 'registry.terraform.io' -print 2>/dev/null | head -n 1 || true)
init_args=(-input=false -backend=false)
[[ -n "$plugin_dir" ]] && init_args+=(-plugin-dir="$(dirname "$plugin_dir")")
export TF_IN_AUTOMATION=1 TF_CLI_CONFIG_FILE="$work/terraformrc" CHECKPOINT_DISABLE=1
touch "$TF_CLI_CONFIG_FILE"

module="$work/module"
mkdir -p "$module"
cp "$root"/terraform/*.tf "$root"/terraform/user_data.sh "$module"/

check "terraform fmt" terraform -chdir="$root/terraform" fmt -check -recursive
check "terraform init" terraform -chdir="$module" init "${init_args[@]}" -no-color >"$work/init.log"
check "terraform validate" terraform -chdir="$module" validate -no-color
check "checkov (0 failed checks)" "$tools/checkov" -d "$root/terraform" --framework terraform --quiet --compact --skip-path tests --skip-download
check "shellcheck" shellcheck "$root"/scripts/*.sh "$root"/terraform/user_data.sh

# moto: a mock AWS on a free loopback port.
port=$("$tools/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
"$tools/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 50); do
    curl -fs "$endpoint/moto-api/" >/dev/null 2>&1 && break
    sleep 0.2
done
sed "s#@MOTO_ENDPOINT@#$endpoint#g" "$root/terraform/tests/moto_override.tf.tpl" >"$module/provider_override.tf"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
ami=$("$tools/python" - "$endpoint" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
print(ec2.describe_images()["Images"][0]["ImageId"])
PY
)
vars=(
    -var "allowed_ssh_cidr=203.0.113.0/24"
    -var "public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVtYmVuY2h0ZXN0a2V5Zm9ybW90b29ubHkxMjM0NTY3 test"
    -var "ami_id=$ami"
    -var "create_results_bucket=true"
    -var "detailed_monitoring=false" # moto does not implement MonitorInstances
    -var 'instances={c7i = {instance_type = "c7i.4xlarge"}, c7g = {instance_type = "c7g.4xlarge", arch = "arm64"}}'
)
tf() {  # tf COMMAND ARGS...: flags first, so a saved plan file can come last
    local cmd="$1"; shift
    terraform -chdir="$module" "$cmd" -no-color -input=false "$@"
}
open_world_rejected() {
    ! tf plan "${vars[@]}" -var "allowed_ssh_cidr=0.0.0.0/0" >"$work/open.log" 2>&1 &&
        grep -q "not the whole internet" "$work/open.log"
}
check "0.0.0.0/0 SSH is rejected" open_world_rejected
check "plan against moto" tf plan "${vars[@]}" -out="$work/plan" >"$work/plan.log"
check "apply against moto" tf apply -auto-approve "$work/plan" >"$work/apply.log"
terraform -chdir="$module" output -json >"$work/outputs.json" || true
check "outputs and security settings" "$tools/python" "$root/terraform/tests/check_moto_state.py" "$endpoint" "$work/outputs.json" 2
check "destroy against moto" tf destroy -auto-approve "${vars[@]}" >"$work/destroy.log"

if [[ $failed -gt 0 ]]; then
    for log in "$work"/*.log; do echo "--- $log"; tail -n 30 "$log"; done
fi
echo "infra: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
