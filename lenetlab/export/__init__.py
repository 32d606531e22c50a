"""``python -m lenetlab.export``: a trained model as an ONNX file (:mod:`lenetlab.export.onnx`)."""
