"""Backends, one file each; importing this package registers them (their heavy imports stay lazy)."""
from .base import BACKENDS, Artifact, ArtifactMetadata, Backend, Runner, backend_for_suffix

# one line per backend module, e.g. "tflite", "tensorrt"
BACKEND_MODULES: list[str] = [
    "torch_eager",
    "onnxruntime_backend",
    "tflite",
]

for _name in BACKEND_MODULES:
    __import__(f"{__name__}.{_name}")

__all__ = ["BACKENDS", "Artifact", "ArtifactMetadata", "Backend", "Runner", "backend_for_suffix"]
