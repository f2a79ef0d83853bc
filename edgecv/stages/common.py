"""Helpers shared by the training stages: loaders and teacher input adapters from a RunContext."""
from __future__ import annotations

from ..data.loaders import make_loader


def loaders(ctx, batch_size: int | None = None):
    d, spec = ctx.data, ctx.recipe.data
    train = make_loader(d.train, batch_size or spec.batch_size, True, ctx.seed, spec.workers)
    val = make_loader(d.val, spec.eval_batch_size, False, ctx.seed, spec.workers)
    return train, val


def teacher_input_adapters(ctx, roles: list[str]):
    """Re-normalise the run's inputs for teachers that expect another mean/std."""
    from ..distill import Renormalize
    from ..models import data_config

    out = []
    for role in roles:
        cfg = data_config(ctx.models[role])
        out.append(Renormalize(ctx.data.mean, ctx.data.std, cfg["mean"], cfg["std"]))
    return out


def sample_batch(ctx, n: int = 2):
    import torch

    return torch.stack([ctx.data.train[i][0] for i in range(min(n, len(ctx.data.train)))])
