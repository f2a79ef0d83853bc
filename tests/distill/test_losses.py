import pytest
import torch
import torch.nn.functional as F

from edgecv.distill import LOSSES, DistillBatch, build_distiller
from edgecv.distill.kd import KDConfig, LogitKD
from edgecv.models import create_model


def test_losses_registered_by_name():
    assert {"kd", "hint"} <= set(LOSSES.names())


def test_kd_matches_hinton_formula():
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 10), torch.randn(8, 10), torch.randint(0, 10, (8,))
    loss = LogitKD(KDConfig(temperature=3.0, alpha=0.7))(DistillBatch(s, [t], y))
    soft = (F.softmax(t / 3, 1) * (F.log_softmax(t / 3, 1) - F.log_softmax(s / 3, 1))).sum(1).mean() * 9
    assert torch.allclose(loss, 0.7 * soft + 0.3 * F.cross_entropy(s, y), atol=1e-5)
    # the soft term vanishes when the student copies the teacher
    same = LogitKD(KDConfig(alpha=1.0))(DistillBatch(t.clone(), [t], y))
    assert same.abs() < 1e-5


def test_multi_teacher_averages_logits():
    torch.manual_seed(0)
    s, t1, t2, y = torch.randn(4, 5), torch.randn(4, 5), torch.randn(4, 5), torch.randint(0, 5, (4,))
    kd = LogitKD(KDConfig(alpha=1.0))
    assert torch.allclose(kd(DistillBatch(s, [t1, t2], y)), kd(DistillBatch(s, [(t1 + t2) / 2], y)))


def test_hint_loss_learns_adapters_between_named_layers():
    student = create_model("mobilenetv3_small_050", num_classes=10, small_input=True)
    teacher = create_model("cifar_resnet20", num_classes=10)
    losses = [{"name": "kd"}, {"name": "hint", "pairs": [{"student": "blocks.2", "teacher": "layer2"}]}]
    d = build_distiller(student, [teacher], losses, torch.randn(2, 3, 32, 32))
    adapter = d.losses[1].adapters[0]
    assert adapter.out_channels == 32  # ResNet-20 layer2 width
    loss, logits = d(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert logits.shape == (4, 10) and adapter.weight.grad is not None
    assert all(p.grad is None for p in teacher.parameters())  # teachers stay frozen
    d.train()
    assert not teacher.training


def test_unknown_layer_is_named_with_suggestion():
    student = create_model("cifar_resnet20", num_classes=10)
    teacher = create_model("cifar_resnet56", num_classes=10)
    with pytest.raises(ValueError, match="teacher 0 has no layer 'layer4'.*did you mean"):
        build_distiller(student, [teacher], [{"name": "hint", "pairs": [{"student": "layer3", "teacher": "layer4"}]}],
                        torch.randn(2, 3, 32, 32))
