"""The OpenVINO backend (Intel CPUs here; iGPU / NPU on the device): ONNX -> IR (convert), NNCF post-training INT8
(quantize) with a per-layer error for the INT8 search (sensitivity), and a Runner for .xml files. Needs the
``openvino`` extra (openvino, nncf), imported inside the functions that use them."""
