# Two commands for a fresh machine: `make train` and `make test`. Both create .venv if it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision are pinned to the builds known to work together.
TORCH := torch==2.14.1 torchvision==0.29.1
# e.g. make install TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU-only builds)
TORCH_INDEX ?=

$(BIN)/lenetlab-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e ".[dev,export]"
	touch $@

.PHONY: install train test lint
install: $(BIN)/lenetlab-installed

train: install
	$(BIN)/python -m lenetlab.train $(ARGS)

test: install
	$(BIN)/python -m pytest -m "slow or not slow" $(ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
