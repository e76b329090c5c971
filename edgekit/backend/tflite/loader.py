"""LiteRT files: litert-torch FP32 conversion, the spec in TFLite metadata, and the interpreter with edgekit's
settings (the quantized variants: ``edgekit.backend.tflite.quantize``).

litert-torch and ai-edge-quantizer are imported inside the functions (they pull JAX: seconds to import)."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import ModelFileError, SpecError
from edgekit.specs import ModelSpec

SPEC_KEY = "edgekit.spec"


def silence_logs() -> None:
    """Quiet litert-torch's progress lines, absl / TF C++ and JAX chatter (idempotent)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    os.environ.setdefault("LITERT_TORCH_SILENCE_TORCH_LOGS", "y")
    for name in ("absl", "jax", "jax._src", "litert_torch", "ai_edge_quantizer", "torch._export"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet():
    """Swallow what the converters print: Python warnings and log records, tqdm bars, size reports, and the
    C++ runtime's lines on file descriptors 1 and 2 (XNNPACK / absl / torchao load messages)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    previous = logging.root.manager.disable
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        _flush_c_stdio()  # C++ log lines still buffered must land in /dev/null, not after the restore
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        logging.disable(previous)


def _flush_c_stdio() -> None:
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def open_interpreter(path: str | Path, threads: int | None = None, all_tensors: bool = False):
    """An allocated ai-edge-litert Interpreter (XNNPACK is its default CPU delegate); bad files -> ModelFileError.
    ``all_tensors``: keep every intermediate tensor readable after ``invoke`` (sensitivity analysis)."""
    from ai_edge_litert.interpreter import Interpreter

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found", path)
    try:
        with quiet():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = Interpreter(model_path=str(path), num_threads=threads,
                                      experimental_preserve_all_tensors=all_tensors)
            interpreter.allocate_tensors()
    except Exception as exc:  # ValueError "Model provided has model identifier ..." / RuntimeError
        message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"LiteRT cannot load it ({message})", path) from None
    return interpreter


# ----------------------------------------------------------------------------- conversion


def convert_fp32(model, sample: np.ndarray, path: Path, layout: str = "NHWC") -> Path:
    """torch model (NCHW input) -> FP32 .tflite at ``path``, batch 1. ``layout`` 'NHWC' gives the file an NHWC
    input with no transpose (``to_channel_last_io``); 'NCHW' keeps torch's signature. ``sample``: (1, C, H, W)."""
    import torch

    silence_logs()
    with quiet():
        import litert_torch  # prints torchao / triton / pytree warnings on import
    example = torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32))
    module = model.eval()
    if layout == "NHWC":
        module = litert_torch.to_channel_last_io(module, args=[0]).eval()  # eval(): else "training mode" warning
        example = example.permute(0, 2, 3, 1).contiguous()
    with quiet():
        edge_model = litert_torch.convert(module, (example,))
    return atomic_write_bytes(path, bytes(edge_model.model_content()))


# ----------------------------------------------------------------------------- spec in TFLite metadata


def _read_model(data: bytes):
    from ai_edge_litert import schema_py_generated as schema

    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def _inline_buffers(model, data: bytes) -> None:
    """Move buffers stored after the flatbuffer (``offset``/``size``, litert-torch's layout for larger models)
    inline, so the model can be re-packed; a model under 2 GB holds them either way."""
    for buffer in model.buffers or []:
        if (buffer.offset or 0) > 1:
            buffer.data = np.frombuffer(data[buffer.offset : buffer.offset + buffer.size], np.uint8)
            buffer.offset, buffer.size = 0, 0


def rewrite_model(path: Path, edit) -> bool:
    """Re-pack the file at ``path`` after ``edit(model)`` (a ``schema.ModelT``, buffers inline). Returns False,
    leaving the file as it was, when it is too large (> 1.5 GB) to re-pack as one flatbuffer."""
    import flatbuffers

    data = Path(path).read_bytes()
    if len(data) > 1_500_000_000:
        return False
    model = _read_model(data)
    _inline_buffers(model, data)
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    atomic_write_bytes(path, bytes(builder.Output()))
    return True


def embed_spec(path: Path, spec: ModelSpec) -> bool:
    """Add ``edgekit.spec`` (ModelSpec JSON) to the file's metadata. False when the file is too large to re-pack:
    the spec is then in the manifest only."""
    from ai_edge_litert import schema_py_generated as schema

    def add_spec(model) -> None:
        model.metadata = [m for m in (model.metadata or []) if _name(m) != SPEC_KEY]
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(json.dumps(spec.to_dict(), sort_keys=True).encode(), np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = SPEC_KEY, len(model.buffers) - 1
        model.metadata.append(entry)

    return rewrite_model(path, add_spec)


def _name(entry) -> str:
    return entry.name.decode(errors="replace") if isinstance(entry.name, bytes) else str(entry.name)


def _metadata_bytes(model, entry) -> bytes:
    """The bytes of metadata ``entry``'s buffer; SpecError when its index or data is not a buffer of the file."""
    buffers = model.buffers or []
    if not isinstance(entry.buffer, int) or not 0 <= entry.buffer < len(buffers):
        raise SpecError(f"metadata points at buffer {entry.buffer}, the file has {len(buffers)}")
    data = buffers[entry.buffer].data
    return b"" if data is None else bytes(np.asarray(data, dtype=np.uint8))


def spec_from_tflite(path: str | Path) -> ModelSpec:
    """The ModelSpec written by ``embed_spec``; ModelFileError when the file has none or is not a TFLite file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found", path)
    try:
        model = _read_model(path.read_bytes())
    except Exception:  # flatbuffers raises struct.error / IndexError on garbage
        raise ModelFileError("not a readable TFLite flatbuffer", path) from None
    for entry in model.metadata or []:
        if _name(entry) == SPEC_KEY:
            try:
                return ModelSpec.from_json(_metadata_bytes(model, entry))
            except SpecError as exc:
                raise ModelFileError(f"invalid '{SPEC_KEY}' metadata ({exc.message})", path) from None
    raise ModelFileError(f"TFLite file has no '{SPEC_KEY}' metadata (not exported by edgekit): "
                         "use the artifact folder or pass the spec", path)
