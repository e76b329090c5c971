# Two commands for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgekit-installed

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, exactly pinned: the CPU build (never an unpinned torch, which pulls CUDA wheels)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]" torch==2.13.0
	touch $(STAMP)

demo: install
	$(VENV)/bin/edgekit demo --out demo-out

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/run.py
	$(PY) benchmarks/export_time.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
