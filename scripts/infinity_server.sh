#!/usr/bin/env bash
# Starts and stops the third-party embedding server infinity (PyPI infinity-emb) on loopback,
# fully offline, so that embench can benchmark it through its OpenAI-style HTTP API
# (POST http://127.0.0.1:PORT/embeddings; there is no /v1 prefix).
# Usage: scripts/infinity_server.sh setup
#        scripts/infinity_server.sh start MODEL_DIR PORT
#        scripts/infinity_server.sh stop PORT
#
#   setup  creates .venv-infinity/ layered on the project venv (.venv/: torch, transformers and
#          sentence-transformers are reused, not downloaded) and installs the pins of
#          scripts/requirements-infinity.txt. Idempotent: it rebuilds only when that file changes.
#   start  serves MODEL_DIR (a sentence-transformers folder, or an embench model folder with one
#          in pytorch/) as model name basename(MODEL_DIR) on 127.0.0.1:PORT: engine torch on CPU,
#          float32, no BetterTransformer, no torch.compile, no result cache; returns once
#          GET /health answers. Pid and log: $EMBENCH_INFINITY_RUN_DIR/PORT.{pid,log}.
#   stop   SIGTERM to the server started on PORT, SIGKILL after a grace period.
#
# Environment: EMBENCH_INFINITY_RUN_DIR (default results/.infinity),
#   EMBENCH_INFINITY_START_TIMEOUT (seconds, default 180), EMBENCH_INFINITY_STOP_TIMEOUT
#   (seconds, default 20), EMBENCH_INFINITY_MODEL_NAME (served name, default the folder name),
#   EMBENCH_INFINITY_ARGS (extra infinity_emb v2 flags, e.g. "--batch-size 64").
#   The server's own INFINITY_* variables are cleared so that the ambient environment cannot
#   change what is benchmarked; pass settings through EMBENCH_INFINITY_ARGS instead.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-infinity"
project_venv="$root/.venv"
requirements="$root/scripts/requirements-infinity.txt"
stamp="$venv/.requirements.sha256"
run_dir="${EMBENCH_INFINITY_RUN_DIR:-$root/results/.infinity}"
start_timeout="${EMBENCH_INFINITY_START_TIMEOUT:-180}"
stop_timeout="${EMBENCH_INFINITY_STOP_TIMEOUT:-20}"

# infinity-emb 0.0.78 (the newest release) calls tokenizer.batch_encode_plus() (warm-up and
# token counting), which transformers 5 removed; the fast tokenizer's __call__ is the same
# operation. Patched in the server process only; the installed packages stay untouched.
launcher='
import sys
from transformers.tokenization_utils_base import PreTrainedTokenizerBase as _Tok
if not hasattr(_Tok, "batch_encode_plus"):
    def _batch_encode_plus(self, batch_text_or_text_pairs, **kwargs):
        return self(batch_text_or_text_pairs, **kwargs)
    _Tok.batch_encode_plus = _batch_encode_plus
from infinity_emb.cli import cli
sys.argv[0] = "infinity_emb"
sys.exit(cli())
'

usage() {
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
    echo "error: $1" >&2
    shift
    for line in "$@"; do echo "$line" >&2; done
    exit 1
}

check_port() {
    if ! [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] || (($1 > 65535)); then
        die "PORT must be a number in 1..65535, got '$1'." "fix: pass a free TCP port, e.g. 7997."
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when $1 is a live process started by this script for port $2.
is_our_server() {
    local pid="$1" port="$2" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *infinity_emb* && "$cmdline" == *"--port $port "* ]]
}

cmd_setup() {
    [[ -x "$project_venv/bin/python" ]] ||
        die "the project venv $project_venv is missing." "fix: run scripts/setup_environment.sh first."
    local site want pyver
    pyver="$("$project_venv/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')"
    site="$project_venv/lib/$pyver/site-packages"
    [[ -d "$site/torch" && -d "$site/sentence_transformers" ]] ||
        die "torch or sentence-transformers is not installed in $project_venv." \
            "fix: run scripts/setup_environment.sh (it installs scripts/requirements.txt)."
    want="$( (sha256sum "$requirements" | cut -d' ' -f1; echo "$site") | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "infinity venv: up to date in $venv"
        return 0
    fi
    echo "infinity venv: creating $venv on top of $project_venv"
    rm -rf "$venv"
    # --without-pip: no pip/setuptools of its own to shadow the project venv's (torch wants
    # setuptools >= 77; a fresh Python 3.11 venv brings 65.5). The project venv's pip installs.
    "$project_venv/bin/python" -m venv --without-pip "$venv" ||
        die "creating $venv failed." "fix: install the venv module (Debian/Ubuntu: apt-get install python3-venv)."
    echo '*' >"$venv/.gitignore"
    # A .pth line appends the project venv's site-packages to sys.path, after this venv's own.
    echo "$site" >"$venv/lib/$pyver/site-packages/zz-embench-project-venv.pth"
    # --no-deps: infinity-emb declares numpy<2 and sentence-transformers<4; resolving them
    # would replace the project's stack. The requirements file lists every package needed.
    "$project_venv/bin/python" -m pip --python "$venv/bin/python" install --quiet \
        --disable-pip-version-check --no-deps -r "$requirements" ||
        die "pip could not install $requirements." "fix: check that PyPI is reachable (or PIP_INDEX_URL), then rerun: $0 setup"
    "$venv/bin/python" -c 'import infinity_emb, fastapi, uvicorn, torch, sentence_transformers' ||
        die "the infinity venv does not import." "fix: rm -rf $venv and rerun: $0 setup"
    echo "$want" >"$stamp"
    echo "infinity venv: ready ($("$venv/bin/python" -c 'import infinity_emb; print("infinity-emb", infinity_emb.__version__)'))"
}

cmd_start() {
    (($# == 2)) || die "start takes MODEL_DIR PORT." "usage: $0 start MODEL_DIR PORT"
    local model_dir="$1" port="$2" weights name pid_file log_file pid
    check_port "$port"
    [[ -x "$venv/bin/python" && -f "$stamp" ]] ||
        die "the infinity venv $venv is missing or incomplete." "fix: run $0 setup"
    [[ -d "$model_dir" ]] || die "model folder '$model_dir' does not exist." "fix: fetch it first (scripts/fetch_model.sh)."
    model_dir="$(cd "$model_dir" && pwd)"
    # An embench model folder keeps the sentence-transformers files in pytorch/.
    if [[ -f "$model_dir/config.json" ]]; then
        weights="$model_dir"
    elif [[ -f "$model_dir/pytorch/config.json" ]]; then
        weights="$model_dir/pytorch"
    else
        die "'$model_dir' has no config.json (nor pytorch/config.json)." \
            "fix: pass a sentence-transformers model folder (config.json, modules.json, weights, tokenizer)."
    fi
    name="${EMBENCH_INFINITY_MODEL_NAME:-$(basename "$model_dir")}"

    mkdir -p "$run_dir"
    pid_file="$run_dir/$port.pid"
    log_file="$run_dir/$port.log"
    if [[ -f "$pid_file" ]] && is_our_server "$(cat "$pid_file")" "$port"; then
        die "an infinity server (pid $(cat "$pid_file")) is already running on port $port." "fix: $0 stop $port"
    fi
    rm -f "$pid_file"
    if port_busy "$port"; then
        die "port $port on 127.0.0.1 is already in use by another process." "fix: pick a free port or stop what listens there."
    fi

    local -a clear_env=()
    local var
    for var in $(compgen -e); do
        [[ "$var" == INFINITY_* ]] && clear_env+=(-u "$var")
    done
    local -a extra=()
    read -r -a extra <<<"${EMBENCH_INFINITY_ARGS:-}"

    echo "infinity: starting $name ($weights) on 127.0.0.1:$port, log $log_file"
    local t0=$SECONDS
    # --no-vector-disk-cache: infinity caches results in SQLite by default, which would turn
    # repeated benchmark requests into cache hits.
    # INFINITY_HOME: where infinity makes its .infinity_cache/ folder (default: the working dir).
    env "${clear_env[@]}" INFINITY_HOME="$run_dir" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 \
        nohup "$venv/bin/python" -c "$launcher" v2 \
        --model-id "$weights" --served-model-name "$name" \
        --engine torch --device cpu --dtype float32 \
        --no-bettertransformer --no-compile --no-vector-disk-cache \
        --host 127.0.0.1 --port "$port" "${extra[@]}" \
        </dev/null >"$log_file" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"

    local deadline=$((SECONDS + start_timeout))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            echo "error: infinity exited during startup. Last lines of $log_file:" >&2
            tail -n 40 "$log_file" >&2
            echo "fix: read the error above; '$0 setup' repairs the venv, a wrong MODEL_DIR shows as a load error." >&2
            exit 1
        fi
        if curl -sf --max-time 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            echo "infinity: ready on http://127.0.0.1:$port (pid $pid, model '$name', $((SECONDS - t0))s)"
            return 0
        fi
        sleep 0.5
    done
    echo "error: infinity did not answer http://127.0.0.1:$port/health within ${start_timeout}s. Last lines of $log_file:" >&2
    tail -n 40 "$log_file" >&2
    kill -TERM "$pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    echo "fix: raise EMBENCH_INFINITY_START_TIMEOUT if the model is just slow to load, else see the log." >&2
    exit 1
}

cmd_stop() {
    (($# == 1)) || die "stop takes PORT." "usage: $0 stop PORT"
    local port="$1" pid_file pid
    check_port "$port"
    pid_file="$run_dir/$port.pid"
    if [[ ! -f "$pid_file" ]]; then
        echo "infinity: no server recorded for port $port ($pid_file absent); nothing to stop"
        return 0
    fi
    pid="$(cat "$pid_file")"
    if ! is_our_server "$pid" "$port"; then
        echo "infinity: pid $pid from $pid_file is not running (or is not infinity); removing the stale pid file"
        rm -f "$pid_file"
        return 0
    fi
    kill -TERM "$pid"
    local deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "infinity: pid $pid still running after ${stop_timeout}s; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pid_file"
    echo "infinity: stopped (pid $pid, port $port)"
}

case "${1:-}" in
    setup) shift; (($# == 0)) || die "setup takes no arguments."; cmd_setup ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
