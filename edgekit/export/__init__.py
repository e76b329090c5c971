"""Export stages: onnx (torch -> ONNX with parity), calibrate (INT8 QDQ), gate (accuracy budget, latency),
sensitivity (per-layer fallback), tflite, tensorrt / jetson (TensorRT helper); ``pipeline.export`` chains them
into one atomic artifact folder. Heavy dependencies are imported inside each stage."""

from edgekit.callable_package import make_callable

make_callable(__name__)  # edgekit.export(...) is edgekit.api.export: the Python API
