"""Channel importance as a registered strategy: each is one file in edgecv/prune/importances/ (picked up
by being there) that registers an `Importance`. The pruner, the sensitivity scan, the spec and the CLI
only ask the registry, so nothing else names a criterion.

An Importance gives torch-pruning's importance object (`criterion`), may refuse a model it cannot score
(`check`), and says whether it needs gradients: those (Taylor) get `.grad` filled from a few labelled
batches before each pruning step, and a sensitivity scan, which has no gradients, uses
`without_gradients()` instead.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Iterable

from ..registry import Registry

IMPORTANCES: Registry["Importance"] = Registry("importance", plugins=["edgecv.prune.importances.*"])


class Importance:
    name: ClassVar[str]
    summary: ClassVar[str] = ""
    needs_gradients: ClassVar[bool] = False

    def criterion(self):
        """torch-pruning's importance object that scores the channels of a group."""
        raise NotImplementedError

    def check(self, model, model_name: str) -> None:
        """Raise ValueError naming the model when this importance cannot score it."""

    def without_gradients(self) -> "Importance":
        """What scores channels when no gradients are available (a sensitivity scan)."""
        return self


def register_importance(cls: type[Importance]) -> type[Importance]:
    """Class decorator: `@register_importance class L2(Importance): name = "l2" ...`."""
    IMPORTANCES.register(cls.name, cls())
    return cls


def importance(name: str) -> Importance:
    """The registered importance `name`; an unknown one raises ValueError with a did-you-mean."""
    try:
        return IMPORTANCES.get(name)
    except KeyError as e:
        raise ValueError(e.args[0]) from None


def accumulate_gradients(model, batches: Iterable, loss_fn: Callable | None = None, device="cpu",
                         name: str = "taylor") -> int:
    """Fill `.grad` for a gradient importance from a few labelled batches; returns the batch count.

    Parameters the loss does not reach (or frozen ones) get zero gradients, so every layer in a group
    has a score to aggregate.
    """
    import torch
    import torch.nn.functional as F

    loss_fn = loss_fn or (lambda logits, y: F.cross_entropy(logits, y))
    was = model.training
    model.eval()  # BN statistics stay as they are; gradients are what we want
    model.zero_grad(set_to_none=True)
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:
        p.requires_grad_(True)
    n = 0
    try:
        with torch.enable_grad():
            for x, y in batches:
                loss_fn(model(x.to(device)), y.to(device)).backward()
                n += 1
    finally:
        for p in frozen:
            p.requires_grad_(False)
        model.train(was)
    if n == 0:
        raise ValueError(f"importance '{name}' needs labelled batches (give fine-tune data)")
    for p in model.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return n
