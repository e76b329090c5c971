"""OpenVINO IR files (``model.xml`` + ``model.bin`` beside it): read through the IR frontend only, written as a
pair, with the ModelSpec in the model's ``rt_info`` (saved inside the .xml), so a lone .xml knows its spec.

Reading goes through the ``ir`` frontend, not ``Core.read_model``: on a file that is not IR the latter tries every
frontend, and TensorFlow's prints parse errors to stderr (breaking the one-line error rule)."""
from __future__ import annotations

import json
from pathlib import Path

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import ModelFileError, SpecError
from edgekit.specs import ModelSpec

SPEC_KEY = ("edgekit", "spec")  # rt_info path of the ModelSpec JSON
VERSION_KEY = ("edgekit", "version")


def weights_path(xml: str | Path) -> Path:
    """The .bin OpenVINO pairs with an .xml (same stem, same folder)."""
    return Path(xml).with_suffix(".bin")


def _first_reason(exc: Exception) -> str:
    """OpenVINO's message minus its 'Check ... failed at file:line' / 'Exception from' lines, one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(("Check '", "Exception from"))]
    return (reasons or lines or [type(exc).__name__])[0][:160]


def read_ir(path: str | Path):
    """The ``openvino.Model`` of an IR .xml; a missing, damaged or non-IR file (or a missing / short .bin) is one
    ModelFileError line naming the file."""
    from openvino.frontend import FrontEndManager

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found", path)
    frontend = FrontEndManager().load_by_framework("ir")
    if not frontend.supported(str(path)):
        raise ModelFileError("not an OpenVINO IR .xml file", path)
    try:
        return frontend.convert(frontend.load(str(path)))
    except Exception as exc:  # RuntimeError / GeneralFailure from pugixml or the weights reader
        raise ModelFileError(f"OpenVINO cannot read it ({_first_reason(exc)})", path) from None


def embed_spec(model, spec: ModelSpec) -> None:
    """Write the ModelSpec JSON and edgekit's version into an ``openvino.Model``'s rt_info, in place."""
    from edgekit import __version__

    model.set_rt_info(json.dumps(spec.to_dict(), sort_keys=True), list(SPEC_KEY))
    model.set_rt_info(__version__, list(VERSION_KEY))


def spec_from_model(model, path: str | Path) -> ModelSpec:
    """The ModelSpec embedded by ``embed_spec``; ModelFileError naming ``path`` when absent or invalid."""
    if not model.has_rt_info(list(SPEC_KEY)):
        raise ModelFileError("OpenVINO IR has no edgekit spec in its rt_info (not exported by edgekit): use the "
                             "artifact folder or pass the spec", path)
    try:
        return ModelSpec.from_json(model.get_rt_info(list(SPEC_KEY)).astype(str))
    except SpecError as exc:
        raise ModelFileError(f"invalid edgekit spec in rt_info ({exc.message})", path) from None


def spec_from_ir(path: str | Path) -> ModelSpec:
    return spec_from_model(read_ir(path), path)


def save_ir(model, xml: str | Path, work: Path) -> Path:
    """Write ``model`` as ``xml`` + its .bin, FP32 weights as they are (no FP16 compression). Both files are
    serialized into ``work`` first, then moved in: the .bin, then the .xml (the file that is opened). If the .xml
    cannot be written, the .bin that was there before is put back, so the pair on disk always matches."""
    import openvino as ov

    xml = Path(xml)
    staged = work / f"staged-{xml.stem}.xml"
    ov.save_model(model, str(staged), compress_to_fp16=False)
    try:
        _move_pair(staged, xml)
    finally:
        staged.unlink(missing_ok=True)
        weights_path(staged).unlink(missing_ok=True)
    return xml


def _move_pair(staged: Path, xml: Path) -> None:
    """The staged .bin, then the staged .xml, over ``xml``'s pair; the old .bin back if the .xml fails."""
    binary = weights_path(xml)
    previous = binary.read_bytes() if binary.is_file() else None
    atomic_write_bytes(binary, weights_path(staged).read_bytes())
    try:
        atomic_write_bytes(xml, staged.read_bytes())
    except BaseException:
        if previous is None:
            binary.unlink(missing_ok=True)
        else:
            atomic_write_bytes(binary, previous)
        raise
