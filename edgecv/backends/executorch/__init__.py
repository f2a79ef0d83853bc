"""The `executorch` backend: PyTorch's on-device runtime, `.pte` programs delegated to XNNPACK.

No ONNX on the way: torch.export -> to_edge_transform_and_lower with the XNNPACK partitioner ->
.pte, what a PyTorch shop ships in an Android or iOS app. Precisions:
    fp32   the exported graph lowered to XNNPACK
    int8   PT2E static quantization with ExecuTorch's XNNPACKQuantizer (symmetric INT8, per-channel
           weights), calibrated on the calibration images, then lowered the same way
The program has a fixed batch of the build sample's size (1: what apps run) unless option
`max_batch` asks for a dynamic batch up to that size. edgecv's metadata is also inside the program
(a constant method), so the file describes itself. Runners use ExecuTorch's Python runtime with the
thread count set on its (process-wide) XNNPACK thread pool.

builder.py exports, quantizes and lowers; runner.py runs a program and reads what it expects.
"""
from ..base import BACKENDS
from .backend import ExecuTorchBackend

BACKENDS.register("executorch", ExecuTorchBackend())
