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
    else:
        steps += _eval_geometry(image_size, crop_pct)
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose([T.Lambda(_to_rgb)] + steps)


def build_eval_array_transform(image_size: int, mean: Sequence[float], std: Sequence[float], crop_pct: float = 0.875):
    """The eval transform of `build_transform(False, ...)` ending in a numpy CxHxW float32 array instead
    of a tensor, bit for bit the same values: the same PIL resize and crop, then the same float32
    operations as ToTensor + Normalize. Per image it skips torch's per-call overhead, which is most of
    a thumbnail's preprocessing: what a service or a camera loop pays on every request or frame."""
    from torchvision import transforms as T

    return T.Compose([T.Lambda(_to_rgb), *_eval_geometry(image_size, crop_pct), ArrayNormalize(mean, std)])


class ArrayNormalize:
    """RGB PIL image -> (x / 255 - mean) / std as CxHxW float32, in the order and precision that
    torchvision's ToTensor and Normalize use (true division, not multiplication by a reciprocal)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        import numpy as np

        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, image):
        import numpy as np

        x = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32)
        x /= np.float32(255)
        x -= self.mean
        x /= self.std
        return x

    def __repr__(self) -> str:
        return f"ArrayNormalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


def eval_resize_side(image_size: int, crop_pct: float = 0.875) -> int:
    """The side the eval transform resizes an image to before any crop (its shorter side, or both
    sides for small inputs): what a decoder must deliver at least."""
    return image_size if image_size <= SMALL_IMAGE else int(round(image_size / crop_pct))


def _eval_geometry(image_size: int, crop_pct: float) -> list:
    from torchvision import transforms as T

    if image_size <= SMALL_IMAGE:
        return [T.Resize((image_size, image_size))]
    return [T.Resize(eval_resize_side(image_size, crop_pct)), T.CenterCrop(image_size)]


def _to_rgb(img):
    return img if img.mode == "RGB" else img.convert("RGB")
