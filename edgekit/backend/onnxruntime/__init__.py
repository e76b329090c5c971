"""The ONNX Runtime backend: run .onnx files on the CPU (FP32 and QDQ INT8); the spec travels in metadata_props."""
