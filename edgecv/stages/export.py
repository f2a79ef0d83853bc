"""Stage `export`: build deployable artifacts of the run's models through any registered backend."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from pydantic import Field, field_validator

from .registry import StageConfig, register_stage


class ExportStage(StageConfig):
    models: Optional[list[str]] = Field(None, description="roles to export (student, teacher, ...); default: the student and every teacher")
    to: list[str] = Field(["onnx"], min_length=1, description="backends or formats: onnx (= onnxruntime), tflite, torch, ...")
    precision: list[str] = Field(["fp32"], min_length=1, description="precisions to build, e.g. fp32, int8; each "
                                 "backend builds those it runs and skips the others")
    calib_size: int = Field(256, ge=1, description="training images used to calibrate integer precisions")
    calib_batch: int = Field(32, ge=1)
    options: dict[str, dict[str, Any]] = Field({}, description="backend options by backend or format name, e.g. "
                                               "{torch: {device: cuda, cuda_graphs: true}}; each backend checks its own")
    class_names: Optional[Union[list[str], str]] = Field(None, description="what the outputs are called in these "
                                                         "artifacts: a list, or a class names file (one per line); "
                                                         "default: the data's class names")
    target: str = Field("host", description="the CPU the artifacts are for: host (this machine) or a named target "
                        "(x86-vnni, x86-avx2, arm64-a53, arm64-a76, arm64-i8mm, jetson); it decides e.g. ONNX "
                        "Runtime's INT8 weights and goes into each artifact's metadata")

    def roles_used(self):
        return [("models", m) for m in self.models or []]

    @field_validator("to")
    @classmethod
    def _known_backends(cls, names: list[str]) -> list[str]:
        _check_backends(names)
        return names

    @field_validator("precision")
    @classmethod
    def _known_precisions(cls, names: list[str]) -> list[str]:
        from ..backends import all_precisions

        known = all_precisions()
        bad = [p for p in names if p not in known]
        if bad:
            raise ValueError(f"unknown precision(s) {', '.join(bad)}; backends here run {', '.join(known)}")
        return names

    @field_validator("target")
    @classmethod
    def _known_target(cls, name: str) -> str:
        from ..targets import check_target_name

        return check_target_name(name)

    @field_validator("options")
    @classmethod
    def _options_for_known_backends(cls, options: dict) -> dict:
        _check_backends(options)
        return options


def _check_backends(names) -> None:
    """Each name is a backend or a format one writes; an unknown one is a recipe error with a did-you-mean."""
    from ..backends import resolve_backend

    for n in names:
        try:
            resolve_backend(n)
        except KeyError as e:
            raise ValueError(e.args[0]) from None


@register_stage("export", ExportStage)
def run(ctx, cfg: ExportStage, stage_dir: Path) -> dict:
    """Export each model to each backend and precision; failures are recorded, the run goes on."""
    from ..backends import BACKENDS, REFERENCE_PRECISION, resolve_backend
    from ..backends.build import build_artifact
    from ..models import model_name
    from ..utils.console import get_console

    con = get_console()
    built = []
    preprocess = ctx.preprocess_with(cfg.class_names)
    for role in cfg.models or ["student", *ctx.teacher_roles()]:
        model = ctx.model(role).cpu().eval()
        for backend in map(resolve_backend, cfg.to):
            runs = BACKENDS.get(backend).precisions
            wanted = [p for p in cfg.precision if p in runs]
            for p in (p for p in cfg.precision if p not in runs):
                built.append(ctx.add_artifact({"name": model_name(model), "backend": backend, "precision": p,
                                               "status": "skipped", "path": None,
                                               "error": f"{backend} does not run {p} (it runs {', '.join(runs)})"}, role))
            fp32 = None  # derived precisions (ONNX int8/fp16) convert this file instead of exporting again
            for precision in sorted(wanted, key=lambda p: p != REFERENCE_PRECISION):
                calibration = ctx.calibration(cfg.calib_size, cfg.calib_batch) if runs[precision].needs_calibration else None
                res = build_artifact(backend, model, ctx.sample(), stage_dir / role / backend, precision, calibration,
                                     _options(cfg.options, backend), preprocess=preprocess, source=fp32,
                                     target=cfg.target)
                if precision == REFERENCE_PRECISION and res.status == "ok":
                    fp32 = res.artifact
                built.append(ctx.add_artifact(res.record(model_name(model)), role))
                shown = res.artifact.path if res.artifact else res.error
                con.print(f"  {role} -> {res.backend} {precision}: {res.status} {shown}", markup=False)
    return {"artifacts": built}


def _options(options: dict, backend: str) -> dict:
    """The options given for `backend`, under its name or its format's (onnx for onnxruntime)."""
    from ..backends import resolve_backend

    return {k: v for name, opts in options.items() if resolve_backend(name) == backend for k, v in opts.items()}
