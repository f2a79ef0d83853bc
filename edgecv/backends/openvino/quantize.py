"""INT8 IR through NNCF: post-training quantization of the FP32 IR on the calibration images, or
NNCF's accuracy-controlled quantization when a budget is given.

Budgets: `max_drop` (top-1 points below FP32, on labelled images) or `min_agreement` (% of images
whose top-1 equals FP32's: no labels needed; NNCF is given the drop 100 - min_agreement on that
metric). They are judged on `accuracy_images` images of the calibration images' dataset that
calibration did not use (training images in a run: never val images).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...utils.versions import package_versions
from ..base import Artifact

PRESETS = ("performance", "mixed")
DEFAULT_ACCURACY_IMAGES = 500


def build_int8(source: Artifact, calibration, out_dir: Path, options) -> Artifact:
    nncf = _nncf()
    from .builder import save_artifact
    from .metadata import read_ir

    preset = options.get("preset", "performance")
    if preset not in PRESETS:
        raise ValueError(f"openvino option preset: '{preset}' is not one of {', '.join(PRESETS)}")
    budget = _budget(options)
    fp32 = read_ir(source.path)
    images = _images(calibration, source)
    cal = nncf.Dataset([images[i : i + 1] for i in range(len(images))])  # one image per item, as NNCF expects
    kwargs = {"preset": getattr(nncf.QuantizationPreset, preset.upper()), "subset_size": len(images)}
    info: dict = {"tool": "nncf", "preset": preset, "calibration_images": int(len(images))}
    if budget is None:
        quantized = nncf.quantize(fp32, cal, **kwargs)
    else:
        metric, max_drop = budget
        items = _validation_items(calibration, fp32, metric, int(options.get("accuracy_images") or DEFAULT_ACCURACY_IMAGES))
        quantized = nncf.quantize_with_accuracy_control(
            fp32, cal, nncf.Dataset(items), validation_fn=_accuracy, max_drop=max_drop,
            drop_type=nncf.DropType.ABSOLUTE, **kwargs)
        info.update(_judged(fp32, quantized, items, metric, max_drop))
    meta = source.metadata.copy(precision="int8")
    meta.tool_versions = {**meta.tool_versions, **package_versions(("openvino", "nncf"))}
    meta.extra["quantization"] = info
    meta.extra["source_artifact"] = str(source.path)
    return save_artifact(quantized, Path(out_dir) / f"{meta.source_model}-int8.xml", meta)


def _nncf():
    try:
        import nncf
    except ImportError:
        raise ImportError("OpenVINO INT8 needs NNCF: pip install 'edgecv[openvino]'") from None
    import logging

    nncf.set_log_level(logging.WARNING)  # its progress bars stay; its INFO lines go
    return nncf


def _budget(options) -> tuple[str, float] | None:
    """('top1', points) for max_drop, ('agreement', 100 - percent) for min_agreement, or None."""
    drop, agree = options.get("max_drop"), options.get("min_agreement")
    if drop is not None and agree is not None:
        raise ValueError("openvino: give max_drop or min_agreement, not both (NNCF controls one metric)")
    if drop is not None:
        if not 0 <= float(drop) <= 100:
            raise ValueError(f"openvino option max_drop: {drop} is not a number of top-1 points in [0, 100]")
        return "top1", float(drop)
    if agree is not None:
        if not 0 < float(agree) <= 100:
            raise ValueError(f"openvino option min_agreement: {agree} is not a percentage in (0, 100]")
        return "agreement", 100.0 - float(agree)
    return None


def _images(calibration, source: Artifact) -> np.ndarray:
    images = np.concatenate([np.asarray(b, dtype=np.float32) for b in calibration])
    want = [d for d in source.metadata.input_shape[1:]]
    if all(isinstance(d, int) for d in want) and list(images.shape[1:]) != want:
        raise ValueError(f"calibration images have shape {tuple(images.shape[1:])} but {source.path.name} expects {tuple(want)}")
    return images


def _validation_items(calibration, fp32, metric: str, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, target) pairs of up to `n` images the calibration did not use: targets are the labels
    (metric top1) or the FP32 model's predictions (metric agreement)."""
    dataset = getattr(calibration, "dataset", None)
    if dataset is None:
        raise ValueError("openvino max_drop/min_agreement need the calibration images' dataset (a CalibrationSource), "
                         "to judge accuracy on images calibration did not use")
    used = set(getattr(calibration, "indices", []))
    rest = np.array([i for i in range(len(dataset)) if i not in used])
    if not len(rest):
        raise ValueError("openvino max_drop/min_agreement: every image of the calibration data went into calibration; "
                         "give more images or a smaller calib_size")
    pick = np.sort(np.random.default_rng(0).permutation(rest)[:n])
    pairs = [dataset[int(i)] for i in pick]
    xs = [np.asarray(x, dtype=np.float32)[None] for x, _ in pairs]
    if metric == "top1":
        labels = np.array([int(y) for _, y in pairs])
        if (labels < 0).any():
            raise ValueError("openvino max_drop needs labelled images (class folders); these have none: "
                             "use min_agreement, which compares with FP32's predictions instead")
    else:
        from .metadata import core
        from .runner import compile_config

        compiled = core().compile_model(fp32, "CPU", compile_config(None))
        labels = np.array([int(compiled(x)[0].argmax()) for x in xs])
    return [(x, labels[i : i + 1]) for i, x in enumerate(xs)]


def _accuracy(compiled, items) -> float:
    """NNCF's validation_fn: percent of items whose top-1 is their target."""
    hits = total = 0
    for x, y in items:
        hits += int((np.asarray(compiled(x)[0]).argmax(1) == y).sum())
        total += len(y)
    return 100.0 * hits / max(total, 1)


def _judged(fp32, quantized, items, metric: str, max_drop: float) -> dict:
    """What the budget was and what the INT8 IR reached on the held-out images."""
    from .metadata import core
    from .runner import compile_config

    scores = [_accuracy(core().compile_model(m, "CPU", compile_config(None)), items) for m in (fp32, quantized)]
    drop = round(scores[0] - scores[1], 3)
    return {"budget_metric": metric, "max_drop": max_drop, "accuracy_images": len(items),
            "fp32_metric": round(scores[0], 3), "int8_metric": round(scores[1], 3), "drop": drop,
            "met": drop <= max_drop + 1e-9}
