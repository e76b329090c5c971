"""The torch-free runtime: crop and normalize faces, decode raw model outputs, head pose from landmarks.

Imports only numpy and OpenCV. (runtime/predictor.py, the model-file front end, lives beside these.)
"""
from edgekit.runtime.decode import decode
from edgekit.runtime.pose import pose_from_landmarks
from edgekit.runtime.preprocess import Box, preprocess

__all__ = ["Box", "decode", "pose_from_landmarks", "preprocess"]
