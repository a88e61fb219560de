"""Inference on exported policy bundles with numpy + onnxruntime only (no torch): what the robot runs."""
