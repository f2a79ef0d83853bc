"""Every registered distillation loss keeps the loss contract: its config validates (and refuses
unknown options by name), and built through `build_distiller` it gives a finite loss whose gradients
reach the student and never the frozen teacher. A new loss is tested the moment it is registered."""
from __future__ import annotations

import math

import pytest
import torch

from edgecv.distill import LOSSES, DistillLoss, build_distiller
from edgecv.distill.registry import validate_loss_config
from edgecv.models import create_model

# the smallest valid config of losses that have required options (module paths of two CIFAR ResNet-20s:
# student layer2 (32 channels, 16x16) -> teacher layer3 (64 channels, 8x8) exercises adapter and pooling)
MINIMAL = {"hint": {"pairs": [{"student": "layer2", "teacher": "layer3"}]}}


def _config(name: str, **extra) -> dict:
    return {"name": name, **MINIMAL.get(name, {}), **extra}


@pytest.mark.parametrize("name", LOSSES.names())
def test_config_validates_and_refuses_unknown_options(name):
    cls = LOSSES.get(name)
    assert issubclass(cls, DistillLoss) and cls.Config.model_config.get("extra") == "forbid"
    item = _config(name)
    assert validate_loss_config(item) == item, f"loss {name}: add its smallest valid config to MINIMAL"
    cls.Config.model_validate(MINIMAL.get(name, {}))
    with pytest.raises(ValueError, match=rf"loss '{name}': not_an_option: .*[Ee]xtra"):
        validate_loss_config(_config(name, not_an_option=1))


@pytest.mark.parametrize("name", LOSSES.names())
def test_loss_is_finite_and_trains_only_the_student(name):
    torch.manual_seed(0)
    student = create_model("cifar_resnet20", num_classes=10)
    teacher = create_model("cifar_resnet20", num_classes=10)
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 7])
    distiller = build_distiller(student, [teacher], [_config(name)], x)
    distiller.train()
    assert student.training and not teacher.training  # the teacher stays frozen in eval mode

    loss, logits = distiller(x, y)
    assert loss.ndim == 0 and math.isfinite(loss.item()) and logits.shape == (2, 10)
    loss.backward()
    grads = [p.grad for p in student.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"loss {name} gives the student no gradient"
    assert all(p.grad is None for p in teacher.parameters()), f"loss {name} reaches the frozen teacher"
    assert not any(p.requires_grad for p in teacher.parameters())
    for p in (p for loss_module in distiller.losses for p in loss_module.parameters()):  # learned parts (adapters)
        assert p.grad is not None
    distiller.remove_hooks()
