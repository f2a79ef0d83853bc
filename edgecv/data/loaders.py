"""Seeded DataLoaders; distributed-aware.

A training loader's order AND each image's random augmentation depend only on the generator's seed
(the training loop reseeds it per epoch): every image is augmented under its own seed, drawn for the
epoch and combined with its index. That holds in the main process and in persistent workers alike
(persistent workers are not reseeded by PyTorch between epochs), and whatever else draws random
numbers between batches (dropout). Exact resume and the KD teacher cache's replayed epochs rely on it.
"""
from __future__ import annotations

import random
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def make_loader(dataset, batch_size: int, train: bool, seed: int = 0, workers: int = 0) -> DataLoader:
    import torch.distributed as dist

    g = torch.Generator()
    g.manual_seed(seed)
    sampler = None
    if train and dist.is_available() and dist.is_initialized():
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, shuffle=True, seed=seed)
    elif train:
        sampler = SeededShuffle(len(dataset), seed)
        dataset = SeededSamples(dataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        sampler=sampler,
        num_workers=workers,
        generator=g,
        drop_last=False,
        persistent_workers=workers > 0,
        worker_init_fn=_seed_worker,
    )


class SeededShuffle(Sampler):
    """A random permutation per pass, each index paired with one seed drawn for the pass; both depend
    only on (seed, epoch). Like DistributedSampler, `set_epoch` picks the pass (the training loop calls
    it); without it, each pass takes the next epoch. Its own generator: the DataLoader's draws from
    `loader.generator` (worker base seeds, only on a worker's first pass) cannot shift it."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def set_seed(self, seed: int) -> None:
        """The training loop's seed rules over the loader's: a resumed run may build its loader anew."""
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[int, int]]:
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        pass_seed = int(torch.randint(0, 2**62, (1,), generator=g))
        for i in torch.randperm(self.size, generator=g).tolist():
            yield pass_seed, i

    def __len__(self) -> int:
        return self.size


class SeededSamples(Dataset):
    """`ds[(pass_seed, i)]` is `dataset[i]` with torch's and Python's RNGs seeded from (pass_seed, i)
    for the call and restored after it; a plain index passes through."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            return self.dataset[key]
        pass_seed, i = key
        sample_seed = (pass_seed * 1_000_003 + i) % 2**63
        py_state = random.getstate()
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: torch.manual_seed would also queue a lazy CUDA seeding call per image
            # (with its formatted stack), which cost 3x the image's own decode and grew without bound
            torch.default_generator.manual_seed(sample_seed)
            random.seed(sample_seed)
            try:
                return self.dataset[i]
            finally:
                random.setstate(py_state)

    def __getattr__(self, name):  # classes, transform, ...: the wrapped dataset's
        if name == "dataset" or name.startswith("__"):  # not __getitems__: it would bypass the seeding
            raise AttributeError(name)
        return getattr(self.dataset, name)


def _seed_worker(worker_id: int) -> None:
    import numpy as np

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)
