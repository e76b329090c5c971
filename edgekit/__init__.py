"""edgekit: face-landmark and head-pose models from training to phones and Jetson boards, with an
accuracy gate on every exported file. ``import edgekit`` needs only numpy; torch, ONNX Runtime, LiteRT and
TensorRT are imported where they are used."""
__version__ = "0.1.0"
