"""The distillation task: frozen teachers + a student + registered losses, as one training task."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn as nn

from .registry import LOSSES, DistillBatch


class FeatureTap:
    """Forward hooks that keep the outputs of named submodules (by module path)."""

    def __init__(self, model: nn.Module, names: Sequence[str], who: str):
        self.outputs: dict[str, torch.Tensor] = {}
        modules = dict(model.named_modules())
        self.handles = []
        for name in dict.fromkeys(names):
            if name not in modules:
                from ..registry import did_you_mean

                raise ValueError(f"{who} has no layer '{name}'{did_you_mean(name, [n for n in modules if n])}")
            self.handles.append(modules[name].register_forward_hook(self._keep(name)))

    def _keep(self, name: str):
        def hook(_m, _i, out):
            self.outputs[name] = out

        return hook


class Renormalize(nn.Module):
    """Maps inputs normalised for the student to the teacher's mean/std (identity when equal)."""

    def __init__(self, src_mean, src_std, dst_mean, dst_std):
        super().__init__()
        t = lambda v: torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1)  # noqa: E731
        self.register_buffer("scale", t(src_std) / t(dst_std))
        self.register_buffer("shift", (t(src_mean) - t(dst_mean)) / t(dst_std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def renormalize_for(teacher: nn.Module, mean, std) -> Renormalize:
    """The adapter from inputs normalised with `mean`/`std` to what `teacher`'s data config expects."""
    from ..models import data_config

    cfg = data_config(teacher)
    return Renormalize(mean, std, cfg["mean"], cfg["std"])


class Distiller(nn.Module):
    """forward(x, y) -> (loss, student_logits). Teachers stay frozen and in eval mode."""

    def __init__(self, student: nn.Module, teachers: Sequence[nn.Module], losses: list[nn.Module],
                 sample: torch.Tensor, teacher_inputs: Sequence[nn.Module] | None = None):
        super().__init__()
        if not teachers:
            raise ValueError("distillation needs at least one teacher (recipe `teacher:` or `teachers:`)")
        self.student = student
        self.teachers = nn.ModuleList(teachers)
        self.teacher_inputs = nn.ModuleList(teacher_inputs or [nn.Identity() for _ in teachers])
        for t in self.teachers:
            t.eval()
            t.requires_grad_(False)
        self.losses = nn.ModuleList(losses)
        self.cache = None
        self.s_tap = FeatureTap(student, [n for l in losses for n in l.student_layers()], "student")
        self.t_taps = [FeatureTap(t, [n for l in losses for n in l.teacher_layers()], f"teacher {i}") for i, t in enumerate(teachers)]
        with torch.no_grad():  # one dry run sizes the adapters
            was = student.training
            student.eval()
            student(sample)
            self._teacher_logits(sample)
            student.train(was)
        for loss in losses:
            loss.setup(dict(self.s_tap.outputs), dict(self.t_taps[0].outputs))

    def remove_hooks(self) -> None:
        """Detach the feature taps: the student and teachers outlive the distillation and must run clean."""
        for tap in (self.s_tap, *self.t_taps):
            for h in tap.handles:
                h.remove()

    def train(self, mode: bool = True):
        super().train(mode)
        for t in self.teachers:
            t.eval()
        return self

    @torch.no_grad()
    def _teacher_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [t(adapt(x)) for t, adapt in zip(self.teachers, self.teacher_inputs)]

    def use_cache(self, cache) -> None:
        """Take teacher logits from a TeacherCache (distill/cache.py) where it has them. Only for losses
        that read logits: features would still need the teacher's forward pass."""
        feature_losses = [type(l).__name__ for l in self.losses if l.teacher_layers()]
        if feature_losses:
            raise ValueError(f"teacher_cache stores logits only; {', '.join(feature_losses)} reads teacher features "
                             "every step: drop teacher_cache or use logit losses (kd)")
        self.cache = cache

    # the training loop's epoch hooks (train/loop.py): which data epoch to replay, and cache bookkeeping
    def data_epoch(self, epoch: int) -> int:
        return self.cache.data_epoch(epoch) if self.cache is not None else epoch

    def begin_epoch(self, epoch: int) -> None:
        if self.cache is not None:
            self.cache.begin_epoch(epoch)

    def end_epoch(self) -> None:
        if self.cache is not None:
            self.cache.end_epoch()

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        t_logits = self.cache.lookup(x, y) if self.cache is not None else None
        if t_logits is None:
            t_logits = self._teacher_logits(x)
            if self.cache is not None:
                self.cache.store(x, y, t_logits)
        s_logits = self.student(x)
        batch = DistillBatch(s_logits, t_logits, y, dict(self.s_tap.outputs), [dict(t.outputs) for t in self.t_taps])
        loss = sum(l(batch) for l in self.losses)
        return loss, s_logits


@dataclass
class KDTeacher:
    """The teacher of a KD fine-tune (pruning recovery, QAT): the model, what re-normalises the student's
    inputs for it (None: it sees them as they are), and the losses (None: Hinton KD)."""
    model: nn.Module
    input: nn.Module | None = None
    losses: list[dict[str, Any]] | None = None

    def distiller(self, student: nn.Module, sample: torch.Tensor) -> "Distiller":
        return build_distiller(student, [self.model], self.losses, sample, [self.input] if self.input is not None else None)


def build_distiller(student: nn.Module, teachers: Sequence[nn.Module], losses: list[dict[str, Any]] | None = None,
                    sample: torch.Tensor | None = None, teacher_inputs: Sequence[nn.Module] | None = None) -> Distiller:
    """`losses` is a list of `{name: kd|hint|..., **config}`; default: Hinton KD (T=4, alpha=0.9)."""
    from .registry import validate_loss_config

    losses = losses or [{"name": "kd"}]
    built = []
    for item in losses:
        validate_loss_config(item)
        cls = LOSSES.get(item["name"])
        built.append(cls(cls.Config.model_validate({k: v for k, v in item.items() if k != "name"})))
    if sample is None:
        raise ValueError("build_distiller needs a sample input batch to size feature adapters")
    return Distiller(student, teachers, built, sample, teacher_inputs)
