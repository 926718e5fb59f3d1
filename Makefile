# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# Each creates the virtual environment it needs; nothing outside the project is assumed but python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch; installed first so the embeddings extra never pulls CUDA wheels.
TORCH := torch==2.13.0
# llama-cpp-python (the llm extra) compiles llama.cpp from its sdist (~24 CPU-minutes; pip caches
# the wheel): portable AVX2/FMA/F16C code rather than -march=native, so the cached wheel runs on
# any AVX2 machine, and no libcurl, since models never download.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo test lint bench clean browser

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.core: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(BIN)/pip install -q "$(TORCH)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(BUILD_JOBS) \
	  $(BIN)/pip install -q -e ".[dev,embeddings,llm]" "$(TORCH)"
	touch $@

demo: $(VENV)/.core
	$(BIN)/deshi demo --fresh

# Debian's Chromium for the browser tests (Playwright drives it; no browser download), CJK fonts
# for Japanese screenshots, and jemalloc, the C allocator docs/service.md recommends for a
# long-running server (its test preloads it). Needs root; elsewhere those tests skip (not under CI).
browser:
	@{ command -v chromium >/dev/null 2>&1 && /sbin/ldconfig -p | grep -q libjemalloc.so.2; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && \
	    apt-get install -y -qq chromium chromium-driver fonts-noto-cjk libjemalloc2; \
	  else echo "missing: apt-get install chromium chromium-driver fonts-noto-cjk libjemalloc2"; fi; }

test: $(VENV)/.dev browser
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.dev
	$(BIN)/python bench/engine_bench.py speed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
