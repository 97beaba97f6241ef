"""Into a runtime: the checked ONNX export, int8 quantization, running and timing a file in
ONNX Runtime or OpenVINO, and the precisions."""
