"""Seeded, stratified subsets so small budgets keep every class."""
from __future__ import annotations

import numpy as np
from torch.utils.data import Subset


def stratified_subset(dataset, limit: int | None, seed: int):
    if limit is None or limit >= len(dataset):
        return dataset
    targets = np.asarray(dataset.targets)
    rng = np.random.default_rng(seed)
    classes = np.unique(targets)
    per_class = max(1, limit // len(classes))
    idx = np.concatenate([rng.permutation(np.flatnonzero(targets == c))[:per_class] for c in classes])
    sub = Subset(dataset, np.sort(idx).tolist())
    sub.targets = targets[np.sort(idx)].tolist()
    sub.classes = dataset.classes
    return sub
