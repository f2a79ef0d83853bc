"""Stage `export`: build deployable artifacts of the run's models through any registered backend."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .registry import register_stage

FLOAT_PRECISIONS = ("fp32", "fp16", "dynamic")  # these need no calibration data


class ExportStage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: Optional[list[str]] = Field(None, description="roles to export (student, teacher, ...); default: the student and every teacher")
    to: list[str] = Field(["onnx"], min_length=1, description="backends or formats: onnx (= onnxruntime), torch, later tflite, tensorrt")
    precision: list[str] = Field(["fp32"], min_length=1, description="precisions to build, e.g. fp32, int8")
    calib_size: int = Field(256, ge=1, description="training images used to calibrate integer precisions")
    calib_batch: int = Field(32, ge=1)

    @field_validator("to")
    @classmethod
    def _known_backends(cls, names: list[str]) -> list[str]:
        from ..export import resolve_backend

        for n in names:
            try:
                resolve_backend(n)
            except KeyError as e:
                raise ValueError(e.args[0]) from None
        return names


@register_stage("export", ExportStage)
def run(ctx, cfg: ExportStage, stage_dir: Path) -> dict:
    """Export each model to each backend and precision; failures are recorded, the run goes on."""
    import torch

    from ..export import build_artifact
    from ..utils.console import get_console

    con = get_console()
    d = ctx.data
    roles = cfg.models or ["student", *ctx.teacher_roles()]
    preprocess = {"mean": list(d.mean), "std": list(d.std), "class_names": list(d.class_names)}
    sample = torch.zeros(1, 3, d.image_size, d.image_size)
    calibration = None
    built = []
    for role in roles:
        model = ctx.model(role).cpu().eval()
        name = model.edgecv_spec["name"]
        for backend in cfg.to:
            for precision in cfg.precision:
                if precision not in FLOAT_PRECISIONS and calibration is None:
                    calibration = _calibration(ctx, cfg)
                res = build_artifact(backend, model, sample, stage_dir / role / backend, precision,
                                     calibration, preprocess)
                entry = {**res.record(name), "role": role, "model": role}
                ctx.artifacts = [a for a in ctx.artifacts if a.get("path") != entry["path"] or a.get("path") is None]
                ctx.artifacts.append(entry)
                built.append(entry)
                shown = res.artifact.path if res.artifact else res.error
                con.print(f"  {role} -> {res.backend} {precision}: [{'green' if res.status == 'ok' else 'yellow'}]{res.status}[/] {shown}")
    return {"artifacts": built}


def _calibration(ctx, cfg: ExportStage):
    """Calibration batches from the training split, with the evaluation transform (no augmentation)."""
    from ..data import CalibrationSource

    return CalibrationSource(eval_view(ctx.data.train, ctx.data.val), cfg.calib_size, cfg.calib_batch, ctx.seed)


def eval_view(train, val):
    """A shallow copy of the training set that uses the validation set's (deterministic) transform."""
    def inner(ds):
        return inner(ds.dataset) if hasattr(ds, "dataset") and not hasattr(ds, "transform") else ds

    t_val = getattr(inner(val), "transform", None)
    if t_val is None:
        return train
    view = copy.copy(train)
    base = inner(view)
    if base is not view:  # a Subset: copy its underlying dataset too, never touch the original
        view.dataset = copy.copy(view.dataset)
        base = inner(view)
    base.transform = t_val
    if hasattr(base, "transforms") and hasattr(base.transforms, "transform"):  # torchvision VisionDataset
        base.transforms = copy.copy(base.transforms)
        base.transforms.transform = t_val
    return view
