"""An artifact is a folder: model files for one target plus ``edgekit.json``, the manifest holding the specs,
every file with its sha256, the results of every check (parity, gate, profile) and provenance.

Manifests are verified before any file is used: each path must stay inside the folder and match its sha256.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit import serial
from edgekit.atomic import atomic_write_json
from edgekit.errors import ModelFileError, SpecError
from edgekit.paths import PROJECT_DIR
from edgekit.specs import ModelSpec, Target

MANIFEST = "edgekit.json"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 64 << 20  # a real manifest is tens of KB; read bounded
# checks read back by edgekit (build, runners, reports): the type of each, and which hold per-file mappings
CHECK_TYPES = {"selected": str, "gate": dict, "latency_ms": dict, "parity": dict, "tensorrt_engines": dict,
               "tflite_failed": dict, "sensitivity": dict, "profile": dict}
PER_FILE = {"gate": ("files",), "tensorrt_engines": ()}  # key path to a {file: mapping} table read by build


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the artifact folder, forward slashes
    sha256: str
    size: int
    format: str  # onnx | tflite | engine | calib_table | config | script | timing_cache
    precision: str = "fp32"  # fp32 | fp16 | int8 | dynamic_int8 | mixed
    role: str = "model"  # model | support
    layout: str = "NCHW"
    notes: str = ""


@dataclass(frozen=True)
class Manifest:
    model: ModelSpec
    files: tuple[ArtifactFile, ...] = ()
    target: Target | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def with_file(self, entry: ArtifactFile) -> "Manifest":
        kept = tuple(f for f in self.files if f.path != entry.path)
        return dataclasses.replace(self, files=kept + (entry,))

    def with_check(self, name: str, result: Any) -> "Manifest":
        return dataclasses.replace(self, checks={**self.checks, name: result})

    def models(self) -> list[ArtifactFile]:
        return [f for f in self.files if f.role == "model"]

    def find(self, format: str, precision: str | None = None) -> ArtifactFile | None:
        for entry in self.models():
            if entry.format == format and (precision is None or entry.precision == precision):
                return entry
        return None


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(folder: Path, path: Path, format: str, **kw: Any) -> ArtifactFile:
    """An ArtifactFile entry for ``path`` (inside ``folder``), hashing it now."""
    rel = path.resolve().relative_to(folder.resolve()).as_posix()
    return ArtifactFile(path=rel, sha256=sha256_file(path), size=path.stat().st_size, format=format, **kw)


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    return atomic_write_json(Path(folder) / MANIFEST, serial.to_dict(manifest))


def read_manifest(folder: str | Path, verify: bool = True) -> Manifest:
    """Read ``folder/edgekit.json``; with ``verify`` every listed file must exist inside the folder and match."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelFileError(f"not an edgekit artifact (no {MANIFEST})", folder)
    try:
        manifest = serial.from_dict(Manifest, _manifest_json(path), "manifest")
        _check_checks(manifest.checks)
    except SpecError as exc:
        raise ModelFileError(exc.message, path) from None
    if not 1 <= manifest.format <= FORMAT_VERSION:
        raise ModelFileError(f"manifest format {serial.excerpt(manifest.format)} is not one this edgekit reads (1.."
                             f"{FORMAT_VERSION})", path)
    if verify:
        for entry in manifest.files:
            verify_file(folder, entry)
    return manifest


def _manifest_json(path: Path) -> Any:
    """The parsed manifest: bounded read, UTF-8, JSON of at most ``serial.MAX_DEPTH`` levels."""
    try:
        text = serial.read_text(path, MAX_MANIFEST_BYTES)
    except SpecError as exc:
        raise ModelFileError(exc.message, path) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, a 5000-digit integer, deep nesting
        raise ModelFileError(f"manifest is not valid JSON ({exc.__class__.__name__})", path) from None


def _check_checks(checks: dict[str, Any]) -> None:
    """The checks edgekit reads back hold what it wrote (``selected`` a path, the others mappings, per-file tables
    of mappings), so a hand-edited manifest is one SpecError, not an AttributeError later."""
    for name, kind in CHECK_TYPES.items():
        value = checks.get(name)
        if value is not None and not isinstance(value, kind):
            raise SpecError(f"manifest.checks.{name}: expected a {kind.__name__}, got {type(value).__name__}")
    for name, keys in PER_FILE.items():
        table = checks.get(name) or {}
        for key in keys:
            table = table.get(key) or {} if isinstance(table, dict) else table
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise SpecError(f"manifest.checks.{name}: expected a mapping of file name -> mapping")


def resolve_inside(folder: Path, rel: str) -> Path:
    """``folder/rel``, refusing absolute paths and anything that escapes the folder (``..``, symlinks)."""
    if Path(rel).is_absolute() or "\\" in rel:
        raise ModelFileError(f"manifest path '{rel}' is not a relative path", folder / MANIFEST)
    target = (folder / rel).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ModelFileError(f"manifest path '{rel}' escapes the artifact folder", folder / MANIFEST)
    return target


def verify_file(folder: Path, entry: ArtifactFile) -> Path:
    path = resolve_inside(folder, entry.path)
    if not path.is_file():
        raise ModelFileError("listed in the manifest but missing", path)
    if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
        raise ModelFileError("sha256 does not match the manifest (file changed or corrupt)", path)
    return path


def provenance(source: str = "") -> dict[str, Any]:
    """Versions, git commit, date and host, recorded with every artifact."""
    from importlib import metadata

    versions = {}
    for dist in ("edgekit", "numpy", "onnx", "onnxruntime", "opencv-python-headless", "torch",
                 "onnxslim", "litert-torch", "ai-edge-litert", "ai-edge-quantizer"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "source": source,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "host": f"{platform.system()} {platform.machine()} python {platform.python_version()}",
        "versions": versions,
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
