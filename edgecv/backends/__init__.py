"""Backends, one package each (edgecv/backends/<name>/: its builder, runner and metadata reader),
registered by one line in BACKEND_PACKAGES (base.py) and loaded on the registry's first look-up.
Their heavy imports stay inside functions."""
from ..utils.lazy import lazy_getattr
from .base import (BACKEND_PACKAGES, BACKENDS, REFERENCE_BACKEND, REFERENCE_PRECISION, Artifact, ArtifactMetadata,
                   Backend, BaseBackend, Precision, Runner, all_precisions, backend_for_suffix, resolve_backend)

# Backends edgecv knows whose module is not part of this version: name -> the pip extra that will
# provide it (`edgecv info` lists them, so users see what exists and what to install).
UNSHIPPED_BACKENDS: dict[str, str] = {}

_LAZY = {
    "module_runner": ("torch.runner", "module_runner"),  # the in-memory PyTorch reference every artifact is compared with
    "open_artifact": ("files", "open_artifact"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["BACKENDS", "BACKEND_PACKAGES", "REFERENCE_BACKEND", "REFERENCE_PRECISION", "Artifact", "ArtifactMetadata",
           "Backend", "BaseBackend", "Precision", "Runner", "UNSHIPPED_BACKENDS", "all_precisions", "backend_for_suffix",
           "resolve_backend", *_LAZY]
