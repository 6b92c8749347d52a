# Two commands on a fresh machine:  `make run` (set up + open the samples), `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel keeps set-up small and fast here. On a GPU box run `make setup TORCH=torch`
# (or keep the CUDA torch you already have): pyproject only asks for torch>=2.2.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.ftui-installed

.PHONY: setup run test lint bench
setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# Opens a git-ignored copy of the samples (./model_versions, seeded on first run), so
# training or deleting in the app never touches the tracked sample_runs/.
RUN_DIR ?= model_versions

run: setup
	@if [ ! -e "$(RUN_DIR)" ]; then cp -R sample_runs "$(RUN_DIR)" && \
		echo "copied sample_runs/ to $(RUN_DIR)/ (git-ignored): train and delete freely there"; fi
	$(BIN)/ftui "$(RUN_DIR)"

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check ftui tests bench scripts
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/bench_store.py
