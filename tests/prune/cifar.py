"""A few real CIFAR-10 images per class as tensor batches, read straight from ../shared/data/cifar10
(listing one folder per class is cheap; scanning the whole 25k-file tree is not, on a shared CPU)."""
import os

import numpy as np
import torch

from tests.conftest import need_shared

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cifar_batches(split: str, per_class: int, batch: int = 100, offset: int = 0) -> list:
    from PIL import Image

    root = need_shared("cifar10", split)
    xs, ys = [], []
    for label, cls in enumerate(sorted(os.listdir(root))):
        for f in sorted(os.listdir(root / cls))[offset : offset + per_class]:
            xs.append(np.asarray(Image.open(root / cls / f).convert("RGB"), dtype=np.float32) / 255.0)
            ys.append(label)
    x = (torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    y = torch.tensor(ys)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[order].contiguous(), y[order]
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)]
