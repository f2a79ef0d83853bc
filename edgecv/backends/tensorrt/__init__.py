"""The `tensorrt` backend: engines built from the exported ONNX, run on an NVIDIA GPU or a Jetson.

backend.py is the Backend object (precisions, options, the build and load routes); builder.py decides
and builds (Python API), trtexec.py builds where only trtexec exists, runner.py runs engines,
metadata.py is the record every engine keeps of where it was built. tensorrt itself is imported only
inside functions.
"""
from ..base import BACKENDS
from .backend import TensorRTBackend

BACKENDS.register("tensorrt", TensorRTBackend())
