"""LiteRT files: litert-torch FP32 conversion, ai-edge-quantizer variants (FP16 weights, dynamic-range INT8,
full-integer INT8), the spec in TFLite metadata, and the interpreter with edgekit's settings.

litert-torch and ai-edge-quantizer are imported inside the functions (they pull JAX: seconds to import)."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import ModelFileError, SpecError
from edgekit.specs import ModelSpec

SPEC_KEY = "edgekit.spec"
SIGNATURE = "serving_default"
INPUT_NAME = "args_0"  # litert-torch's name for forward()'s first argument


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


def quantize_tflite(fp32_path: Path, path: Path, precision: str, calibration: np.ndarray | None = None) -> Path:
    """ai-edge-quantizer on an FP32 file. ``precision``: 'fp16' (FP16 weights), 'dynamic_int8' (int8 weights,
    float activations), 'int8' (static int8 weights and activations, int8 I/O; needs ``calibration``: the float
    batch (N, ...) in the FP32 file's input layout, fed one image at a time)."""
    if precision == "int8":
        return TfliteInt8Quantizer(fp32_path, calibration).quantize(path)
    silence_logs()
    with quiet():
        from ai_edge_quantizer import quantizer, recipe
        from ai_edge_quantizer.algorithm_manager import AlgorithmName

    tool = quantizer.Quantizer(str(fp32_path))
    if precision == "fp16":
        tool.add_weight_only_config(regex=".*", operation_name=recipe.TFLOperationName.ALL_SUPPORTED,
                                    num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    elif precision == "dynamic_int8":
        tool.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    else:
        raise SpecError(f"unknown TFLite precision '{precision}' (fp16, dynamic_int8, int8)")
    with quiet():
        quantized = tool.quantize(None, enable_progress_bar=False, enable_progress_report=False)
    return atomic_write_bytes(path, bytes(quantized.quantized_model))


class TfliteInt8Quantizer:
    """Full-integer INT8 (``static_wi8_ai8``, int8 I/O) of one FP32 file; calibrates once, then ``quantize`` may be
    called many times with different layers left in float (the sensitivity fallback)."""

    def __init__(self, fp32_path: Path, calibration: np.ndarray | None):
        if calibration is None or len(calibration) == 0:
            raise SpecError("full-integer TFLite needs calibration tensors (never random data)")
        silence_logs()
        with quiet():
            from ai_edge_quantizer import recipe
        self.fp32_path, self.calibration = Path(fp32_path), calibration
        self.recipe = recipe.static_wi8_ai8()
        self._ranges = None

    def quantize(self, path: Path, float_layers: Sequence[tuple[str, str]] = ()) -> Path:
        """Writes the INT8 file; ``float_layers``: (TFLite op name, output tensor name) pairs kept in float, with
        (de)quantize ops around them."""
        with quiet():
            from ai_edge_quantizer import quantizer

            tool = quantizer.Quantizer(str(self.fp32_path))
            tool.load_quantization_recipe(self.recipe + [_float_entry(op, tensor) for op, tensor in float_layers])
            if self._ranges is None:
                self._ranges = calibrate_min_max(self.fp32_path, self.recipe, self.calibration)
            quantized = tool.quantize(self._ranges, enable_progress_bar=False, enable_progress_report=False)
        return atomic_write_bytes(path, bytes(quantized.quantized_model))


def _float_entry(op_name: str, tensor: str) -> dict:
    """A recipe entry leaving the ``op_name`` op whose output is ``tensor`` in float. An op's scope is its output
    names joined by ';'; entries later than the '*' one override it."""
    from ai_edge_quantizer import recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    return {"regex": f"(^|;){re.escape(tensor)}($|;)", "operation": recipe.TFLOperationName(op_name),
            "algorithm_key": AlgorithmName.NO_QUANTIZE}


def calibrate_min_max(fp32_path: Path, quantization_recipe: list, calibration: np.ndarray) -> dict:
    """{tensor name: {min, max}} over every calibration image: the global range, like ONNX Runtime's MinMax.

    ``Quantizer.calibrate`` merges the per-image ranges with a moving average (weight 0.95 on the past): fed one
    image at a time, a range ends up near a typical image's range, not the set's, and the int8 input and output
    clip (PFLD: the landmark output range [-0.05, 1.06] became [0, 0.94], landmarks near the crop border were
    cut off, tens of pixels of error). ``calibration``: (N, ...) float32 in the file's input layout."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(quantization_recipe)
    tool = calibrator.Calibrator(Path(fp32_path).read_bytes(), num_threads=1,
                                 qsv_update_func=qsv_utils.min_max_update)
    samples = [{INPUT_NAME: image[None].astype(np.float32)} for image in calibration]
    tool.calibrate({SIGNATURE: samples}, manager)
    return tool.get_model_qsvs()


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


def embed_spec(path: Path, spec: ModelSpec) -> bool:
    """Add ``edgekit.spec`` (ModelSpec JSON) to the file's metadata. Returns False, leaving the file as it was,
    when the model is too large (> 1.5 GB) to re-pack as one flatbuffer: the spec is then in the manifest only."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    data = Path(path).read_bytes()
    if len(data) > 1_500_000_000:
        return False
    model = _read_model(data)
    _inline_buffers(model, data)
    model.metadata = [m for m in (model.metadata or []) if _name(m) != SPEC_KEY]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(spec.to_dict(), sort_keys=True).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = SPEC_KEY, len(model.buffers) - 1
    model.metadata.append(entry)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    atomic_write_bytes(path, bytes(builder.Output()))
    return True


def _name(entry) -> str:
    return entry.name.decode() if isinstance(entry.name, bytes) else str(entry.name)


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
                return ModelSpec.from_dict(json.loads(bytes(model.buffers[entry.buffer].data).decode()))
            except (ValueError, SpecError) as exc:
                raise ModelFileError(f"invalid '{SPEC_KEY}' metadata ({exc})", path) from None
    raise ModelFileError(f"TFLite file has no '{SPEC_KEY}' metadata (not exported by edgekit): "
                         "use the artifact folder or pass the spec", path)
