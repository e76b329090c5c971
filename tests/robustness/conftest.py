"""Robustness fixtures: the generated bad-input corpus (once per session) and two ways to run ``edgekit``:
in-process (fast; fd-level stderr, shown warnings and logged warnings all count as stderr lines) and in a
subprocess (``python -m edgekit``: the real stderr and exit code)."""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
HIDDEN_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # not shown
# by Python's default filters outside __main__, so a user never sees them


def load_module(name: str, path: Path):
    """The module at ``path``, registered as ``name`` in sys.modules (once): dataclasses and the pickle payload
    class look their module up there by name."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _load_make_corpus():
    return load_module("make_corpus", PROJECT / "tests" / "corpus" / "make_corpus.py")


@pytest.fixture(scope="session")
def module_at():
    """``load_module(name, path)``: a corpus generator or another test file's helpers as a module."""
    return load_module


@pytest.fixture(scope="session")
def rules():
    """tests/robustness/test_bad_input.py as a module: ``assert_one_error_line``, ``previous_artifact``."""
    return load_module("bad_input_rules", Path(__file__).with_name("test_bad_input.py"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """name -> path of every generated bad (and odd-but-valid ``*_ok``) input; see tests/corpus/make_corpus.py."""
    return _load_make_corpus().make_corpus(tmp_path_factory.mktemp("corpus"))


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr_lines: list[str]

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)


@pytest.fixture()
def cli_inprocess(capfd, caplog):
    """Run ``edgekit ARGS`` in this process; returns an Outcome."""
    from edgekit.cli import main

    def run(*args) -> Outcome:
        caplog.clear()
        with warnings.catch_warnings(record=True) as shown, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 1
        out, err = capfd.readouterr()
        lines = err.strip().splitlines() if err.strip() else []
        lines += [f"warning: {w.category.__name__}: {w.message}" for w in shown
                  if not issubclass(w.category, HIDDEN_CATEGORIES)]
        lines += [f"log: {r.levelname}: {r.getMessage()}" for r in caplog.records]
        return Outcome(code, out, lines)

    return run


def _cli_subprocess(*args, timeout: float = 120) -> Outcome:
    """``python -m edgekit ARGS`` from the project folder, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Outcome(done.returncode, done.stdout, done.stderr.strip().splitlines())


@pytest.fixture(scope="session")
def cli_subprocess():
    """Run ``python -m edgekit ARGS`` (``timeout`` seconds at most); returns an Outcome."""
    return _cli_subprocess


def _snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="session")
def snapshot():
    """folder -> {relative path: sha256} of every file under it (hidden temp files included); {} if absent."""
    return _snapshot
