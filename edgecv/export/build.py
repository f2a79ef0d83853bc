"""Build one artifact through any registered backend, turning every outcome into a status.

A backend that is not installed gives `skipped` (with the pip extra to install); a build that raises
gives `export_failed` with the reason; the caller's run goes on either way.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import BACKENDS, Artifact


@dataclass
class BuildResult:
    backend: str
    precision: str
    status: str  # ok | export_failed | skipped
    artifact: Artifact | None = None
    error: str | None = None

    def record(self, name: str) -> dict[str, Any]:
        """The run manifest's entry for this artifact (ctx.artifacts)."""
        return {"name": name, "backend": self.backend, "precision": self.precision, "status": self.status,
                "path": str(self.artifact.path) if self.artifact else None, "error": self.error}


def resolve_backend(name: str) -> str:
    """A backend name or a format it writes ('onnx' -> 'onnxruntime')."""
    if name in BACKENDS:
        return name
    for b in BACKENDS.names():
        if getattr(BACKENDS.get(b), "format", None) == name:
            return b
    from ..registry import did_you_mean

    formats = sorted({getattr(BACKENDS.get(b), "format", b) for b in BACKENDS.names()} - set(BACKENDS.names()))
    raise KeyError(f"unknown backend '{name}'{did_you_mean(name, BACKENDS.names() + formats)}; "
                   f"known: {', '.join(BACKENDS.names() + formats)}")


def build_artifact(backend: str, model, sample, out_dir: str | Path, precision: str = "fp32",
                   calibration=None, preprocess: dict | None = None, options: dict | None = None) -> BuildResult:
    """`preprocess` (mean, std, class_names) is what the run's data used; it goes into the metadata.
    `options` are backend-specific build keywords (e.g. tflite's `layout`)."""
    import inspect

    name = resolve_backend(backend)
    b = BACKENDS.get(name)
    options = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = set(options) - set(inspect.signature(b.build).parameters)
    if unknown:
        raise ValueError(f"backend {name} does not take option(s) {', '.join(sorted(unknown))}")
    ok, reason = b.available()
    if not ok:
        return BuildResult(name, precision, "skipped", error=reason)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _preprocess_on(model, preprocess):
            art = b.build(model, sample, precision, calibration, out_dir, **options)
    except ImportError as e:
        return BuildResult(name, precision, "skipped", error=str(e))
    except Exception as e:  # reported on this row; the run goes on
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return BuildResult(name, precision, "export_failed", error=text[:500])
    _merge(art, preprocess)
    return BuildResult(name, art.precision, "ok", artifact=art)


@contextmanager
def _preprocess_on(model, preprocess: dict | None):
    """Let backends read the run's preprocessing from the model while they build (see artifact_metadata)."""
    old = getattr(model, "edgecv_preprocess", None)
    if preprocess:
        model.edgecv_preprocess = {k: v for k, v in preprocess.items() if v is not None}
    try:
        yield
    finally:
        if preprocess:
            if old is None:
                del model.edgecv_preprocess
            else:
                model.edgecv_preprocess = old


def _merge(art: Artifact, preprocess: dict | None) -> None:
    """Backends that build their metadata themselves still get the run's preprocessing recorded."""
    changed = False
    for k, v in (preprocess or {}).items():
        if v is not None and hasattr(art.metadata, k) and getattr(art.metadata, k) != list(v):
            setattr(art.metadata, k, list(v))
            changed = True
    if changed or not art.sidecar().exists():
        art.save_metadata()
