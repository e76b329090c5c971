"""torch -> ONNX: legacy TorchScript exporter (fast, exact; toolchain §5), input ``input``, outputs named by
``HeadSpec.outputs``, fixed batch unless the target asks for a dynamic one, simplified, checked, spec embedded."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from edgekit.atomic import atomic_write_bytes
from edgekit.backend.onnxruntime.loader import embed_spec, spec_from_onnx  # noqa: F401  (re-exported)
from edgekit.errors import EdgekitError
from edgekit.specs import ModelSpec, OnnxSection

INPUT_NAME = "input"


def example_input(spec: ModelSpec, batch: int = 1):
    """A zero float32 torch tensor of the model's input shape (layout of the spec)."""
    import torch

    width, height = spec.preprocess.input_size
    channels = spec.preprocess.channels
    shape = (batch, channels, height, width) if spec.preprocess.layout == "NCHW" else (batch, height, width, channels)
    return torch.zeros(shape, dtype=torch.float32)


def torch_to_onnx(model, section: OnnxSection, batch: int = 1):
    """``onnx.ModelProto`` of ``model.forward`` at ``section.opset``; dynamic batch when ``section.dynamic_batch``."""
    import onnx
    import torch

    spec: ModelSpec = model.spec
    outputs = list(spec.head.outputs)
    dynamic = {name: {0: "batch"} for name in [INPUT_NAME, *outputs]} if section.dynamic_batch else None
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model.eval(), (example_input(spec, batch),), buffer, dynamo=False,
                          opset_version=section.opset, input_names=[INPUT_NAME], output_names=outputs,
                          dynamic_axes=dynamic, do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def simplify(proto, how: str):
    """onnxslim (default), onnxsim, or 'none'; both keep a symbolic batch and give bit-identical outputs."""
    if how == "onnxslim":
        import onnxslim

        return onnxslim.slim(proto)
    if how == "onnxsim":
        try:
            import onnxsim
        except ModuleNotFoundError:
            raise EdgekitError("target asks for onnxsim: pip install 'edgekit-face[onnxsim]'") from None
        simplified, ok = onnxsim.simplify(proto)
        if not ok:
            raise EdgekitError("onnxsim could not validate the simplified model")
        return simplified
    return proto


def batch_dim(proto) -> int | str:
    """The input's batch dimension: an int, or the symbolic name."""
    dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_value if dim.HasField("dim_value") else dim.dim_param


def export_onnx(model, path: Path, section: OnnxSection) -> Path:
    """Write ``path``: exported, simplified, batch asserted, spec embedded, checked by onnx.checker."""
    import onnx

    proto = simplify(torch_to_onnx(model, section), section.simplify)
    batch = batch_dim(proto)
    if section.dynamic_batch and not isinstance(batch, str):
        raise EdgekitError(f"dynamic batch requested but the exported batch is fixed ({batch})", path)
    embed_spec(proto, model.spec)
    onnx.checker.check_model(proto, full_check=True)
    return atomic_write_bytes(path, proto.SerializeToString())


def torch_outputs(model, batch: np.ndarray, chunk: int = 32) -> list[np.ndarray]:
    """The torch reference outputs for a float32 batch (spec layout), in ``HeadSpec.outputs`` order."""
    from edgekit.backend.torch.runner import TorchRunner

    with TorchRunner(model) as runner:
        parts = [runner.infer(batch[i : i + chunk]) for i in range(0, len(batch), chunk)]
    return [np.concatenate(outs) for outs in zip(*parts)]
