"""Build the train/val datasets of a run from a DataSpec and the student's data config."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import DataSpec
from .subset import stratified_subset
from .transforms import Augment, build_transform


@dataclass
class DataBundle:
    train: Any
    val: Any
    class_names: list[str]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> dict:
        return {
            "train_images": len(self.train),
            "val_images": len(self.val),
            "classes": self.class_names,
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def build_data(spec: DataSpec, model_cfg: dict | None = None, seed: int = 0) -> DataBundle:
    """`model_cfg` is timm's data config of the student: it supplies size and mean/std by default."""
    model_cfg = model_cfg or {}
    size = spec.image_size or int(model_cfg.get("input_size", (3, 224, 224))[-1])
    mean = tuple(spec.mean or model_cfg.get("mean", (0.485, 0.456, 0.406)))
    std = tuple(spec.std or model_cfg.get("std", (0.229, 0.224, 0.225)))
    aug = Augment(**spec.augment.model_dump())
    crop_pct = float(model_cfg.get("crop_pct", 0.875))
    t_train = build_transform(True, size, mean, std, aug, crop_pct)
    t_val = build_transform(False, size, mean, std, None, crop_pct)

    train, val, classes = _SOURCES[spec.source](spec, t_train, t_val, seed)
    train = stratified_subset(train, spec.max_train, seed)
    val = stratified_subset(val, spec.max_val, seed)
    return DataBundle(train, val, list(classes), size, mean, std)


def _digits(spec: DataSpec, t_train, t_val, seed: int):
    from .digits import CLASS_NAMES, DigitsDataset, digits_splits

    (xtr, ytr), (xva, yva) = digits_splits(spec.val_fraction, seed)
    return DigitsDataset(xtr, ytr, t_train), DigitsDataset(xva, yva, t_val), CLASS_NAMES


def _imagefolder(spec: DataSpec, t_train, t_val, seed: int):
    from .folder import image_folder

    train_dir, val_dir = spec.train_dir, spec.val_dir
    if spec.root:
        train_dir = train_dir or str(Path(spec.root) / "train")
        val_dir = val_dir or str(Path(spec.root) / "val")
    if not train_dir or not val_dir:
        raise ValueError("data.source 'imagefolder' needs data.root (with train/ and val/) or data.train_dir and data.val_dir")
    train = image_folder(train_dir, t_train)
    val = image_folder(val_dir, t_val, class_names=train.classes)
    return train, val, train.classes


def _cifar10(spec: DataSpec, t_train, t_val, seed: int):
    from torchvision.datasets import CIFAR10

    if not spec.root:
        raise ValueError("data.source 'cifar10' needs data.root (the folder holding cifar-10-batches-py)")
    try:
        train = CIFAR10(spec.root, train=True, transform=t_train, download=spec.download)
        val = CIFAR10(spec.root, train=False, transform=t_val, download=spec.download)
    except (RuntimeError, OSError) as e:
        raise FileNotFoundError(
            f"CIFAR-10 not found under {spec.root} ({e}); set data.download: true on a machine with a "
            "network, or use source: imagefolder on a PNG copy"
        ) from None
    return train, val, train.classes


_SOURCES = {"digits": _digits, "imagefolder": _imagefolder, "cifar10": _cifar10}
