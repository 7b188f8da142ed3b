"""The embedding network: definition, pretrained weights, ONNX export and inference."""
