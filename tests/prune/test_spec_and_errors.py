"""Bad ratios, unknown layers and unprunable layers are errors that name the key or the layer."""
import pytest
import torch
import torch.nn as nn
from pydantic import ValidationError

from edgecv.models import create_model
from edgecv.prune.pruner import ChannelPruner, PruneError
from edgecv.prune.spec import PruneSpec


@pytest.mark.parametrize("key", ["macs_ratio", "params_ratio"])
@pytest.mark.parametrize("value", [0, 1, -0.2, 1.5])
def test_ratios_outside_zero_one_are_errors(key, value):
    with pytest.raises(ValidationError, match=f"{key} must be > 0 and < 1"):
        PruneSpec(**{key: value})


def test_other_ratios_and_targets_are_checked():
    with pytest.raises(ValidationError, match="layer_ratios.conv1 must be > 0 and < 1"):
        PruneSpec(macs_ratio=0.5, layer_ratios={"conv1": 1.0})
    with pytest.raises(ValidationError, match="sensitivity.ratios"):
        PruneSpec(macs_ratio=0.5, sensitivity={"ratios": [0.5, 1.0]})
    with pytest.raises(ValidationError, match="exactly one pruning target"):
        PruneSpec()
    with pytest.raises(ValidationError, match="exactly one pruning target"):
        PruneSpec(macs_ratio=0.5, latency_ms=1.0)
    assert PruneSpec(latency_ms=0.6, backend="onnxruntime", threads=2).describe_target() == "p50 <= 0.6 ms on onnxruntime (2 threads)"


def test_unknown_layer_names_are_errors():
    model = create_model("cifar_resnet20", num_classes=10)
    with pytest.raises(PruneError, match="has no layer 'layer1.0.conv'.*did you mean 'layer1.0.conv[12]'"):
        ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5, ignore=["layer1.0.conv"]))
    with pytest.raises(PruneError, match="layer_ratios: 'layer1.0.bn1' is a BatchNorm2d"):
        ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5, layer_ratios={"layer1.0.bn1": 0.5}))


def test_bn_importance_without_batchnorm_is_an_error():
    with pytest.raises(ValueError, match="needs BatchNorm layers.*squeezenet1_1"):
        ChannelPruner(create_model("squeezenet1_1", num_classes=10, small_input=True), torch.randn(1, 3, 32, 32),
                      PruneSpec(macs_ratio=0.5, importance="bn"))


class FixedOrder(nn.Module):
    """Reorders channels with a fixed index list: a dependency torch-pruning cannot see."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 8, 3, padding=1), nn.Linear(8, 10)
        self.register_buffer("order", torch.arange(15, -1, -1))

    def forward(self, x):
        return self.fc(self.c2(self.c1(x)[:, self.order]).mean((2, 3)))


def test_a_layer_the_library_cannot_prune_is_named_with_a_fix():
    with pytest.raises(PruneError, match="layer 'c1'.*add 'c1' to `ignore:`"):
        ChannelPruner(FixedOrder(), torch.randn(1, 3, 16, 16), PruneSpec(macs_ratio=0.5)).prune_to_ratio(0.5)
    model = FixedOrder()  # the suggested fix works
    ChannelPruner(model, torch.randn(1, 3, 16, 16), PruneSpec(macs_ratio=0.5, ignore=["c1"])).prune_to_ratio(0.5)
    assert model.c2.out_channels == 4 and model(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_unreachable_target_says_why():
    model = create_model("cifar_resnet20", num_classes=10)
    p = ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5, max_layer_ratio=0.2))
    with pytest.raises(PruneError, match="max_layer_ratio=0.2"):
        p.prune_until(lambda: 1.0 - p.scheduled_ratio, 0.5, "MACs ratio")


def test_cli_bad_ratio_exits_2_with_the_flag(capsys):
    from edgecv.cli import main

    assert main(["prune", "--model", "cifar_resnet20", "--macs-ratio", "1.2", "-o", "/tmp/never-written.pt"]) == 2
    assert "--macs-ratio: macs_ratio must be > 0 and < 1" in capsys.readouterr().out


def test_a_frozen_model_still_traces_and_prunes():
    """A KD teacher has requires_grad=False everywhere; the graph is traced through autograd anyway."""
    model = create_model("cifar_resnet20", num_classes=10).requires_grad_(False)
    p = ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5))
    p.prune_to_ratio(0.5)
    assert model.layer1[0].conv1.out_channels == 8
    assert not any(q.requires_grad for q in model.parameters())
