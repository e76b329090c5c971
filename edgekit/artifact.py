"""An artifact is a folder: model files for one target plus ``edgekit.json``, the manifest holding the specs,
every file with its sha256, the typed results of every check (``edgekit.checks.Checks``) and provenance.
Format 1 manifests (free-form checks) are read through ``edgekit.manifest_v1``.

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
from edgekit.checks import Checks
from edgekit.errors import ModelFileError, SpecError
from edgekit.paths import PROJECT_DIR
from edgekit.specs import ModelSpec, Target

MANIFEST = "edgekit.json"
FORMAT_VERSION = 2  # 2: typed checks; 1: free-form checks (converted when read)
MAX_MANIFEST_BYTES = 64 << 20  # a real manifest is tens of KB; read bounded


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
    checks: Checks = field(default_factory=Checks)
    provenance: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def with_file(self, entry: ArtifactFile) -> "Manifest":
        kept = tuple(f for f in self.files if f.path != entry.path)
        return dataclasses.replace(self, files=kept + (entry,))

    def with_checks(self, **changes: Any) -> "Manifest":
        """A copy with these fields of ``checks`` replaced."""
        return dataclasses.replace(self, checks=dataclasses.replace(self.checks, **changes))

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
    data = _manifest_json(path)
    version = data.get("format", FORMAT_VERSION) if isinstance(data, dict) else FORMAT_VERSION
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"manifest format {serial.excerpt(version)} is not one this edgekit reads (1.."
                             f"{FORMAT_VERSION})", path)
    try:
        if version == 1:
            from edgekit.manifest_v1 import manifest_from_v1

            data = manifest_from_v1(data)
        manifest = serial.from_dict(Manifest, data, "manifest")
    except SpecError as exc:
        raise ModelFileError(exc.message, path) from None
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
