"""SOURCE -> (open Runner, ModelSpec): the one place that turns what a user names into something that runs.

A SOURCE is an artifact folder (manifest verified first), a lone ``.onnx`` / ``.tflite`` (spec embedded in the
file's metadata, else from the manifest of the artifact folder it sits in), a TensorRT ``.engine`` / ``.plan``
(spec from the manifest beside it), a ``.safetensors`` / ``.pt`` / ``.pth`` file or a registered model name (torch,
imported only then). Every user mistake is one ModelFileError / EdgekitError line naming the file.
"""
from __future__ import annotations

from pathlib import Path

from edgekit.artifact import MANIFEST, ArtifactFile, Manifest, read_manifest, resolve_inside
from edgekit.backend.base import Runner
from edgekit.backend.formats import FORMATS, all_suffixes, by_name, by_suffix
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import ModelSpec

TORCH_SUFFIXES = by_name("torch").suffixes
FILE_SUFFIXES = all_suffixes()
HOST_FORMATS = tuple(f.name for f in FORMATS if f.host and f.spec_from_caller)  # what any host runs from a manifest


def open_source(source: str | Path, threads: int | None = None, choice: str | None = None) -> tuple[Runner, ModelSpec]:
    """An opened Runner and its ModelSpec. ``choice`` picks a file of an artifact folder: its relative path, a
    format (``onnx``, ``tflite``, ``engine``) or a precision (``fp32``, ``int8``, ...); default: the file the export
    selected, else the first file this host can run (``pick_model``)."""
    path = Path(source)
    if path.is_dir():
        manifest = read_manifest(path)
        entry = pick_model(manifest, path, choice)
        runner = runner_for_file(resolve_inside(path, entry.path), threads, manifest.model)
        return runner.open(), manifest.model
    if choice:
        raise EdgekitError(f"'{choice}' picks a file of an artifact folder, and this is not one", path)
    if path.suffix in TORCH_SUFFIXES or is_model_name(source):
        from edgekit.backend.torch.runner import TorchRunner

        runner = TorchRunner(str(source), threads).open()
        return runner, runner.spec
    runner = runner_for_file(path, threads, spec_beside(path)).open()
    return runner, runner.spec


def is_model_name(source: str | Path) -> bool:
    """True for what can only be a registered model name: no such file, no model-file suffix ('pfld_0.25x')."""
    path = Path(source)
    return not path.exists() and path.suffix.lower() not in FILE_SUFFIXES and len(path.parts) == 1


def runner_for_file(path: Path, threads: int | None = None, spec: ModelSpec | None = None) -> Runner:
    """The backend's runner for one model file, by suffix (``backend.formats``; not opened yet)."""
    if not path.is_file():
        raise ModelFileError("file not found", path)
    found = by_suffix(path)
    if found is None:
        raise ModelFileError(f"unknown model file type '{path.suffix}' (expected one of {', '.join(FILE_SUFFIXES)} "
                             "or an artifact folder)", path)
    return found.runner_for(path, threads, spec)


def spec_beside(path: Path) -> ModelSpec | None:
    """The manifest spec when ``path`` is a model file listed by the artifact folder it sits in (verified); None
    when there is no manifest there (the file's own metadata is then used)."""
    folder = path.resolve().parent
    if not (folder / MANIFEST).is_file():
        return None
    manifest = read_manifest(folder)
    listed = {resolve_inside(folder, entry.path) for entry in manifest.models()}
    return manifest.model if path.resolve() in listed else None


def pick_model(manifest: Manifest, folder: Path, choice: str | None = None) -> ArtifactFile:
    """The manifest entry named by ``choice`` (path, format or precision), else the one the export selected
    (``checks.selected``: the fastest file within the accuracy budget), else the first host-runnable one."""
    models = manifest.models()
    if not models:
        raise ModelFileError("the artifact lists no model file", folder / MANIFEST)
    if choice is None:
        selected = [m for m in models if m.path == manifest.checks.selected]
        runnable = [m for m in models if m.format in HOST_FORMATS]
        return (selected or runnable or models)[0]
    for test in (lambda m: m.path == choice, lambda m: m.format == choice, lambda m: m.precision == choice):
        found = [m for m in models if test(m)]
        if found:
            return found[0]
    known = ", ".join(f"{m.path} ({m.format} {m.precision})" for m in models)
    raise ModelFileError(f"no model file matches '{choice}' (files: {known})", folder / MANIFEST)
