"""Weight files: their format and specs, the shipped weights, the TF checkpoint import and the ONNX export."""
