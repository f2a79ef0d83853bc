"""The `torch` backend: eager PyTorch, the reference every other artifact is compared with.

backend.py is the Backend object; builder.py saves the model file, runtime.py is how a file runs
(device, dtype, CUDA graphs, torch.compile), runner.py runs it, metadata.py reads a file. `TORCH` is
the registered instance (`edgecv bench --device/--precision ...` reconfigures torch artifacts
through it).
"""
from ..base import BACKENDS
from .backend import TorchBackend

TORCH = TorchBackend()
BACKENDS.register("torch", TORCH)
