"""lrdif.export — stage-2 inference graph to ONNX, CoreML, TFLite and ExecuTorch."""
