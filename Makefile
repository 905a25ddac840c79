# Two commands: `make run` opens the app, `make test` runs the checks. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed


.PHONY: run test test-slow lint format bench setup clean weights

run: $(STAMP)
	$(PY) main.py $(ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports  # the layer contracts of pyproject.toml [tool.importlinter]
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q

test-slow: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -m slow

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

setup: $(STAMP)

# Re-install when pyproject.toml changes, or when the venv was made by another Python.
$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys' 2>/dev/null; then rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,onnx]"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info

# The model shipped in weights/ so Predict works on first launch; its card records this command.
weights: $(STAMP)
	$(PY) main.py train --dataset mnist-sample --model simple-cnn-2 --epochs 12 --save-model weights/mnist-sample-simple-cnn-2.keras
