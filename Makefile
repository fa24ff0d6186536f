# bindscape — the two commands a new user needs are `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-gue lint clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found; install Python 3.11 or run 'make PY=python3 ...'"; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch==2.13.0 goes in first, alone, so that no dependency resolution can pull a CUDA build on a CPU machine.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev,explain]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/bindscape demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pytest -q -m slow
	$(BIN)/python benchmarks/bench_fetch.py

# GUE TF benchmark: default model vs fine-tuned DNABERT-2 MCC and published auROCs. The human tasks fine-tune from
# one model pretrained on all nine training sets (chosen on dev; docs/accuracy.md). Measured: 20.4 CPU-minutes of
# training for the 9 tasks including pretraining, one thread; about 20 wall-minutes on an idle 2-core machine.
bench-gue: $(STAMP)
	$(BIN)/python benchmarks/gue.py --pretrain --pretrain-shared-by 3 --tasks human/1 human/3 human/4 --out runs/gue-pre
	$(BIN)/python benchmarks/gue.py --set 'model.params.kmers=[4,6]' --tasks human/0 human/2 mouse/0 --out runs/gue-kmers
	$(BIN)/python benchmarks/gue.py --set 'model.params.kmers=[4,6]' loss.pos_weight=2.0 --extra-negatives 1 \
	    --tasks mouse/2 mouse/3 mouse/4 --out runs/gue-kmers-extra
	$(BIN)/python benchmarks/gue.py --merge runs/gue-pre runs/gue-kmers runs/gue-kmers-extra

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache runs
