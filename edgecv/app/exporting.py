"""`export`: one model -> one deployable artifact through any backend, written atomically to the path
asked for, with its metadata sidecar, and checked against its PyTorch source before it is reported done.

    res = export(load_model("cifar_resnet20", checkpoint="r20.th"), "r20.onnx")
    res = export("runs/quickstart-.../", "student.tflite", to="tflite", precision="int8", calib_data="train/")
    res.artifact, res.parity   # {'agreement': 100.0, 'max_abs_diff': 2e-06} on random inputs
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..utils.options import with_fields

PARITY_IMAGES = 4  # random inputs the artifact is checked on against its source


@dataclass(frozen=True)
class ExportOptions:
    to: str = "onnx"  # a backend or the format it writes: onnx, tflite, torch, trt, ...
    precision: str = "fp32"
    calib_data: str | Path | None = None  # images that calibrate integer precisions (ImageFolder or a flat folder)
    layout: str | None = None  # NHWC or NCHW, for backends that offer a choice (tflite: NHWC by default)
    input_size: int | None = None  # square input size; default: what the model was trained with
    options: Mapping[str, Any] = field(default_factory=dict)  # backend-specific build options
    target: str | None = None  # the CPU the artifact is for (a name from edgecv.targets; default this machine)
    # what the outputs are called (a class names file, or a list), stored in the artifact; checked against
    # the model's outputs. Default: the checkpoint's or run's names, if any
    class_names: str | Path | Sequence[str] | None = None


@dataclass
class ExportResult:
    artifact: Any  # the Artifact at the path asked for
    parity: dict  # agreement (%) and max |diff| with the PyTorch source on random inputs

    @property
    def path(self) -> Path:
        return self.artifact.path

    @property
    def size_mb(self) -> float:
        """The model file and its companions (OpenVINO's weights .bin)."""
        from ..bench.harness import size_mb

        return size_mb(*self.artifact.files())


def export(model, output: str | Path, options: ExportOptions | None = None, **fields) -> ExportResult:
    """Build `model` (a LoadedModel, an edgecv-built nn.Module, a ModelSource or what `load_model` takes)
    for `options.to` at `output`. The backend and the output's suffix are checked before the model loads."""
    import numpy as np
    import torch

    from ..backends import BACKENDS, Artifact, module_runner, resolve_backend
    from ..backends.build import build_artifact
    from ..eval.logits import parity
    from ..utils.paths import check_output_file
    from .models import resolve_model
    from .predictor import Predictor

    opts = with_fields(ExportOptions, options, fields, "export")
    check_output_file(output, "-o")  # a folder, or a file on the way to it: one line, before the model loads
    backend = resolve_backend(opts.to)
    b = BACKENDS.get(backend)
    out = Path(output).expanduser().resolve()
    if out.suffix.lower() != b.suffix:
        raise ValueError(f"-o {output}: the {backend} backend writes '{b.suffix}' files; name the output *{b.suffix}")
    ok, why = b.available()
    if not ok:
        raise ImportError(f"backend '{backend}' is not available here: {why}")

    loaded = resolve_model(model)
    pre = loaded.preprocess
    size = opts.input_size or loaded.image_size
    sample = torch.zeros(1, 3, size, size)
    class_names = pre.get("class_names")
    if opts.class_names is not None:
        class_names = _checked_class_names(opts.class_names, loaded.model, sample)
    calibration = None
    if opts.calib_data:
        from ..data import CalibrationSource

        calibration = CalibrationSource.from_folder(opts.calib_data, size, pre["mean"], pre["std"])
        calibration.check_shape(["batch", 3, size, size])

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        res = build_artifact(backend, loaded.model, sample, tmp, opts.precision, calibration,
                             {**opts.options, "layout": opts.layout},
                             preprocess={"mean": pre["mean"], "std": pre["std"], "class_names": class_names},
                             target=opts.target)
        if res.status != "ok":
            raise RuntimeError(f"{res.status}: {res.error}")
        art = res.artifact
        for f in art.files()[1:]:  # companions first (OpenVINO's weights .bin): the model file lands last
            f.replace(out.with_suffix(f.suffix))
        art.path.replace(out)  # same folder, so an atomic rename
        art = Artifact(out, art.backend, art.metadata)
        if loaded.path:
            art.metadata.extra["source_checkpoint"] = str(loaded.path)
        art.save_metadata()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # the artifact against its PyTorch source, through the Predictor every command uses
    x = np.random.default_rng(0).standard_normal((PARITY_IMAGES, 3, size, size)).astype(np.float32)
    return ExportResult(art, parity(Predictor(art).logits(x), module_runner(loaded.model)(x)))


def _checked_class_names(class_names, model, sample) -> list[str]:
    """The names given, refused unless there is one per output of the model."""
    import torch

    from ..bench.classmap import given_class_names

    names, where = given_class_names(class_names)
    with torch.no_grad():
        outputs = model(sample).shape[1]
    if len(names) != outputs:
        raise ValueError(f"{where} has {len(names)} names but the model has {outputs} outputs")
    return names
