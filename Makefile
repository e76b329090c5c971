# Two commands for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgekit-installed
# PyTorch's CPU-only index first: its 2.13.0+cpu outranks PyPI's CUDA 2.13.0 (a local version sorts above the public
# one), so no CUDA wheel is pulled; PyPI serves everything else (and pip's find-links still see local wheels)
TORCH_CPU := --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, exactly pinned, the CPU build (never an unpinned torch, which pulls CUDA wheels); --no-deps: only
	# torch is looked up on PyTorch's index (each lookup costs seconds where that host is unreachable and a local
	# wheel serves), its dependencies come from PyPI in the next step
	$(PY) -m pip install -q --no-deps torch==2.13.0 $(TORCH_CPU)
	$(PY) -m pip install -q -e ".[all,dev]" torch==2.13.0
	# MediaPipe's BlazeFace detectors and face-mesh peer (2.1 MB, ~/.cache/edgekit/models): nothing downloads later
	$(PY) -m edgekit.fetch || echo "make: MediaPipe files not fetched: the Haar detector is used and the tests that need them skip; retry with $(PY) -m edgekit.fetch"
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
