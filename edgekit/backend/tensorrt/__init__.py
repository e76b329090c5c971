"""The TensorRT backend: ``api`` (one shim over the 8.5/8.6, 10.x and 11.x Python APIs), ``loader`` (ONNX ->
engine on the device's GPU) and ``runner`` (TensorRTRunner). ``tensorrt`` is imported only inside functions:
it exists on GPU hosts only, and nothing in this package has run against it on the project's machines."""
