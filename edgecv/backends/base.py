"""The backend protocol: build an artifact from a model, load it as a runner.

A backend is one small object registered by name:

    build(model, sample, precision, calibration, out_dir) -> Artifact
    load(artifact, threads=None) -> Runner        # Runner: NCHW float32 numpy batch -> logits (numpy)
    available() -> (bool, reason)                 # never imports a missing library at module import

The harness then times, evaluates and compares any runner the same way.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from ..registry import Registry
from ..utils.io import write_json

METADATA_SUFFIX = ".edgecv.json"  # sidecar written next to every artifact


@dataclass
class ArtifactMetadata:
    source_model: str | None = None
    input_shape: list[int | str] = field(default_factory=lambda: ["batch", 3, 224, 224])
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    class_names: list[str] | None = None
    precision: str = "fp32"  # what was actually built, not what was asked for
    layout: str = "NCHW"  # what the file's input expects; runners take NCHW float32 regardless
    input_dtype: str = "float32"
    tool_versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Artifact:
    path: Path
    backend: str
    metadata: ArtifactMetadata

    @property
    def precision(self) -> str:
        return self.metadata.precision

    def sidecar(self) -> Path:
        return Path(str(self.path) + METADATA_SUFFIX)

    def save_metadata(self) -> Path:
        return write_json(self.sidecar(), {"backend": self.backend, **asdict(self.metadata)})

    @classmethod
    def from_path(cls, path: str | Path, backend: str | None = None) -> "Artifact":
        """Read an artifact and its sidecar metadata, if any (files edgecv did not make have none)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"artifact not found: {path}")
        side = Path(str(path) + METADATA_SUFFIX)
        meta: dict[str, Any] = {}
        if side.is_file():
            meta = json.loads(side.read_text())
        backend = backend or meta.pop("backend", None) or backend_for_suffix(path)
        meta.pop("backend", None)
        known = set(ArtifactMetadata.__dataclass_fields__)
        return cls(path, backend, ArtifactMetadata(**{k: v for k, v in meta.items() if k in known}))


Runner = Callable[[np.ndarray], np.ndarray]


class Backend(Protocol):
    name: str
    suffix: str  # file suffix of its artifacts, e.g. ".onnx"
    extra: str  # pip extra that installs it, e.g. "onnx"

    def available(self) -> tuple[bool, str]: ...

    def build(self, model, sample, precision: str, calibration, out_dir: Path) -> Artifact: ...

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner: ...


BACKENDS: Registry[Backend] = Registry("backend")


def backend_for_suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    for name in BACKENDS.names():
        if getattr(BACKENDS.get(name), "suffix", None) == suffix:
            return name
    raise ValueError(f"no backend reads '{suffix}' files ({path}); known backends: {', '.join(BACKENDS.names())}")
