"""An ensemble teacher: several models whose logits are averaged (optionally weighted) as one model.

`create_model("ensemble", members=[{"name": ..., "checkpoint": ...}, ...], weights=[...])` builds it
(the recipe's `teacher: {name: ensemble, members: [...]}`); it is an ordinary nn.Module with a class
count, a timm-style data config and an `edgecv_spec`, so it is evaluated, exported, benchmarked, saved,
reloaded and distilled from like any other teacher. Members must agree on their class count and input
normalisation (mean/std): inputs are fed to every member unchanged.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .describe import data_config, model_name
from .spec import ENSEMBLE


class Ensemble(nn.Module):
    """forward(x) = sum_i w_i * member_i(x), with the weights normalised to sum to 1 (the mean by default)."""

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float] | None = None):
        super().__init__()
        if len(members) < 1:
            raise ValueError("an ensemble needs members")
        problem = member_mismatch(members)
        if problem:
            raise ValueError(problem)
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or any(not w > 0 for w in weights):
            raise ValueError(f"ensemble weights must be {len(members)} positive numbers (one per member), got {weights}")
        self.members = nn.ModuleList(members)
        w = torch.tensor(weights, dtype=torch.float32)
        # persistent: a teacher cache keyed by the state dict changes with the weights
        self.register_buffer("member_weights", w / w.sum())
        self.num_classes = _num_classes(members[0])
        self.pretrained_cfg = {**data_config(members[0]), "num_classes": self.num_classes}
        self.default_cfg = self.pretrained_cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.stack([m(x) for m in self.members])  # (members, batch, classes)
        return (logits * self.member_weights.view(-1, 1, 1)).sum(0)


def member_mismatch(members: Sequence[nn.Module]) -> str | None:
    """Why these models cannot form one ensemble (one line naming the members), or None."""
    named = [f"members.{i} ({model_name(m)})" for i, m in enumerate(members)]
    classes = [_num_classes(m) for m in members]
    if len(set(classes)) > 1:
        shown = ", ".join(f"{n}: {c} classes" for n, c in zip(named, classes))
        return f"ensemble members predict different class counts ({shown}); they must share one"
    norms = [(_rounded(cfg["mean"]), _rounded(cfg["std"])) for cfg in map(data_config, members)]
    if len(set(norms)) > 1:
        shown = ", ".join(f"{n}: mean {list(mean)} std {list(std)}" for n, (mean, std) in zip(named, norms))
        return (f"ensemble members expect different input normalisation ({shown}); every member sees the same "
                "input, so they must share one mean/std")
    return None


def build_ensemble(members: Sequence[dict], weights: Sequence[float] | None, num_classes: int | None,
                   create) -> Ensemble:
    """Build each member from its spec (recipe keys: name, checkpoint, pretrained, num_classes, small_input,
    kwargs; or a saved model's `edgecv_spec`) with `create` (create_model, which builds ensembles with this
    function), then the ensemble."""
    if not members:
        raise ValueError(f"model '{ENSEMBLE}' needs members, e.g. members=[{{'name': 'cifar_resnet20', "
                         "'checkpoint': ...}, {'name': 'cifar_resnet56', 'checkpoint': ...}]")
    built = []
    for i, spec in enumerate(members):
        spec = dict(spec)
        kwargs = {k: v for k, v in (spec.pop("kwargs", None) or {}).items() if k != "num_classes"}
        if "name" not in spec:
            raise ValueError(f"ensemble members.{i}: needs a name")
        name = spec.pop("name")
        args = {"num_classes": spec.pop("num_classes", None) or num_classes,
                "pretrained": spec.pop("pretrained", False), "checkpoint": spec.pop("checkpoint", None),
                "small_input": spec.pop("small_input", False)}
        nested = {k: spec.pop(k, None) for k in ("members", "weights")}
        if name == ENSEMBLE:  # a nested ensemble keeps its own members and weights
            kwargs.update(nested)
        elif any(v is not None and v != [] for v in nested.values()):
            raise ValueError(f"ensemble members.{i}: only an {ENSEMBLE} has members and weights ('{name}' is one model)")
        if spec:
            raise ValueError(f"ensemble members.{i}: unknown key(s) {', '.join(sorted(spec))}")
        try:
            built.append(create(name, **args, **kwargs))
        except (KeyError, ValueError, FileNotFoundError) as e:
            raise type(e)(f"ensemble members.{i}: {e.args[0] if e.args else e}") from None
    model = Ensemble(built, weights)
    model.edgecv_spec = {"name": ENSEMBLE, "num_classes": model.num_classes, "small_input": False,
                         "kwargs": {"members": [m.edgecv_spec for m in built],
                                    "weights": [float(w) for w in weights] if weights is not None else None}}
    return model


def _num_classes(model: nn.Module) -> int | None:
    found = getattr(model, "num_classes", None)
    return found if found is not None else (getattr(model, "edgecv_spec", None) or {}).get("num_classes")


def _rounded(values) -> tuple:
    return tuple(round(float(v), 6) for v in values)
