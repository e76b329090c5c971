"""The LiteRT (TFLite) backend: run .tflite files with ai-edge-litert (XNNPACK), batch 1, float or int8 I/O;
``loader`` converts torch models with litert-torch and quantizes with ai-edge-quantizer."""
