"""Seeded DataLoaders; distributed-aware."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader


def make_loader(dataset, batch_size: int, train: bool, seed: int = 0, workers: int = 0) -> DataLoader:
    import torch.distributed as dist

    sampler = None
    if dist.is_available() and dist.is_initialized() and train:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, shuffle=True, seed=seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        generator=g,
        drop_last=False,
        persistent_workers=workers > 0,
        worker_init_fn=_seed_worker,
    )


def _seed_worker(worker_id: int) -> None:
    import random

    import numpy as np

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)
