"""The `openvino` backend: OpenVINO IR (`model.xml` + its weights `model.bin`) on OpenVINO's CPU plugin.

Precisions:
    fp32   the model converted to IR: from its ONNX export (default, the graph ONNX Runtime runs too) or
           straight from PyTorch through torch.export (option `convert_from: torch`)
    fp16   the same IR with FP16 weights (half the file); CPUs decompress them and compute in FP32
    int8   NNCF post-training quantization of the FP32 IR on the calibration images (FakeQuantize
           nodes, run as INT8 kernels: VNNI / AMX on x86, dot-product on ARM). With `max_drop` (top-1
           points) or `min_agreement` (% of images predicted as FP32 predicts them), NNCF's
           accuracy-controlled quantization puts the most harmful layers back to FP32 until it holds,
           judged on labelled training images held out from calibration (`accuracy_images`).
Build options: convert_from (onnx | torch), preset (performance: symmetric activations | mixed:
asymmetric, for models with negative activations such as hardswish), max_drop, min_agreement,
accuracy_images. The IR's rt_info carries edgecv's metadata, so the file describes itself.
Runners compile for "CPU" with explicit settings: INFERENCE_NUM_THREADS, one stream, the LATENCY hint
and FP32 inference precision (CPUs with BF16/AMX would otherwise compute FP32 models in BF16).

builder.py builds FP32/FP16 IRs, quantize.py INT8 (NNCF), runner.py compiles and runs, metadata.py reads
an IR (and holds the one ov.Core).
"""
from ..base import BACKENDS
from .backend import OpenVINOBackend

BACKENDS.register("openvino", OpenVINOBackend())
