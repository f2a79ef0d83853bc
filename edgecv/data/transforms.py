"""Train/eval transforms from a model's data config plus configurable augmentation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Augment:
    crop: str = "auto"  # auto | random_resized_crop | pad_crop | none
    pad: int = 4
    scale: tuple[float, float] = (0.08, 1.0)
    hflip: bool = True
    rotation: float = 0.0
    color_jitter: float = 0.0


SMALL_IMAGE = 64  # at or below this size, pad-and-crop (CIFAR practice) beats random-resized-crop


def build_transform(
    train: bool,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    augment: Augment | None = None,
    crop_pct: float = 0.875,
):
    from torchvision import transforms as T

    small = image_size <= SMALL_IMAGE
    steps = []
    if train and augment is not None:
        crop = augment.crop
        if crop == "auto":
            crop = "pad_crop" if small else "random_resized_crop"
        if crop == "random_resized_crop":
            steps.append(T.RandomResizedCrop(image_size, scale=tuple(augment.scale)))
        else:
            steps.append(T.Resize((image_size, image_size)))
            if crop == "pad_crop":
                steps.append(T.RandomCrop(image_size, padding=augment.pad, padding_mode="reflect"))
        if augment.hflip:
            steps.append(T.RandomHorizontalFlip())
        if augment.rotation:
            steps.append(T.RandomRotation(augment.rotation))
        if augment.color_jitter:
            j = augment.color_jitter
            steps.append(T.ColorJitter(j, j, j))
    elif small:
        steps.append(T.Resize((image_size, image_size)))
    else:
        steps += [T.Resize(int(round(image_size / crop_pct))), T.CenterCrop(image_size)]
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose([T.Lambda(_to_rgb)] + steps)


def _to_rgb(img):
    return img if img.mode == "RGB" else img.convert("RGB")
