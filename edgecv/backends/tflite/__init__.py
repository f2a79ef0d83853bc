"""The `tflite` backend: PyTorch -> .tflite with litert-torch, run with the LiteRT interpreter.

Precisions: fp32, fp16 (float16 weights), dynamic (dynamic-range int8 weights), int8 (full integer,
calibrated; int8 input and output tensors). Files are channel-last (NHWC) by default, what mobile
apps feed; the sidecar metadata records layout, dtype and how integer inputs are encoded, and the
runner adapts the harness's NCHW float32 batches to it. Files edgecv did not make (e.g. Coral's
uint8 MobileNets) run too: `inspect` reads what they expect from the file.

builder.py converts (litert-torch, ai-edge-quantizer), runner.py runs (ai-edge-litert or
tflite-runtime), metadata.py reads a file's tensors.
"""
from ..base import BACKENDS
from .backend import TFLiteBackend

BACKENDS.register("tflite", TFLiteBackend())
