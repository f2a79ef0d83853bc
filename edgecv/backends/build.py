"""Build one artifact through any registered backend, turning every outcome into a status.

A backend that is not installed gives `skipped` (with the pip extra to install); a build that raises
gives `export_failed` with the reason; the caller's run goes on either way.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..targets import Target
from ..utils.errors import first_line
from .base import BACKENDS, COMMON_OPTIONS, Artifact, resolve_backend


@dataclass
class BuildResult:
    backend: str
    precision: str
    status: str  # ok | export_failed | skipped
    artifact: Artifact | None = None
    error: str | None = None

    def record(self, name: str) -> dict[str, Any]:
        """The run manifest's entry for this artifact."""
        return {"name": name, "backend": self.backend, "precision": self.precision, "status": self.status,
                "path": str(self.artifact.path) if self.artifact else None, "error": self.error}


def build_artifact(backend: str, model, sample, out_dir: str | Path, precision: str = "fp32", calibration=None,
                   options: Mapping[str, Any] | None = None, **common: Any) -> BuildResult:
    """`options` are backend-specific build keywords (e.g. tflite's `layout`); `common` are the ones every
    backend takes (COMMON_OPTIONS): `preprocess` (mean, std, class_names: what the run's data used; it goes
    into the metadata) and `source`, this backend's FP32 artifact of the same model, from which derived
    precisions (ONNX int8/fp16) are converted; and `target`: the CPU the artifact is for (edgecv.targets;
    default this machine), recorded in its metadata."""
    unknown = sorted(set(common) - {*COMMON_OPTIONS, "target"})
    if unknown:
        raise TypeError(f"build_artifact() got unknown option(s) {', '.join(unknown)}; backend-specific ones go in "
                        f"`options`, the common ones are {', '.join(COMMON_OPTIONS)} and target")
    name = resolve_backend(backend)
    b = BACKENDS.get(name)
    ok, reason = b.available()
    if not ok:
        return BuildResult(name, precision, "skipped", error=reason)
    preprocess = common.get("preprocess")
    opts = {**(options or {}), "preprocess": dict(preprocess) if preprocess else None, "source": common.get("source")}
    if common.get("target") is not None:
        opts["target"] = common["target"]
    try:
        art = b.build(model, sample, precision, calibration, Path(out_dir), opts)
    except ImportError as e:
        return BuildResult(name, precision, "skipped", error=first_line(e, 500))
    except Exception as e:  # reported on this row; the run goes on
        return BuildResult(name, precision, "export_failed", error=first_line(e, 500))
    return BuildResult(name, art.precision, "ok", artifact=art)
