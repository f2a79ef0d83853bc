"""The embedded default dataset: scikit-learn's bundled 8x8 handwritten digits (1,797 images).

It ships inside scikit-learn, so the quickstart needs no download and no ../shared. Images are
turned into RGB PIL images so the normal transforms (resize, augmentation, normalisation) apply.
"""
from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

CLASS_NAMES = [str(i) for i in range(10)]


class DigitsDataset(Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None):
        self.images, self.targets, self.transform = images, [int(t) for t in labels], transform
        self.classes = CLASS_NAMES

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.fromarray(self.images[i]).convert("RGB")
        return (self.transform(img) if self.transform else img), self.targets[i]


def digits_splits(val_fraction: float = 0.2, seed: int = 0) -> tuple[tuple, tuple]:
    """Stratified, seeded train/val split as ((images, labels), (images, labels)); uint8 8x8."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    images = np.clip(d.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    xtr, xva, ytr, yva = train_test_split(
        images, d.target, test_size=val_fraction, random_state=seed, stratify=d.target
    )
    return (xtr, ytr), (xva, yva)
