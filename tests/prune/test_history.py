"""The replayable history: exact option-A rewrite, save/load round trips, refusal of mismatches."""
import copy

import pytest
import torch

from edgecv.models import create_model, load_model_file as load_model, save_model
from edgecv.prune.history import replay
import edgecv.prune.checkpoint  # noqa: F401  (registers the `pruning` checkpoint extension)
from edgecv.prune.pruner import ChannelPruner
from edgecv.prune.rewrites import ChannelPlacement, apply_rewrites
from edgecv.prune.spec import PruneSpec

from tests.conftest import need_shared


def _pruned(name="cifar_resnet20", ratio=0.5, **spec):
    model = create_model(name, num_classes=10).eval()
    p = ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5, **spec))
    p.prune_to_ratio(ratio)
    p.finish()
    return model


def test_option_a_rewrite_is_exact_on_the_real_teacher():
    model = create_model("cifar_resnet20", checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    x = torch.randn(3, 3, 32, 32)
    before = model(x)
    done = apply_rewrites(model)
    assert [d["module"] for d in done] == ["layer2.0", "layer3.0"]
    assert isinstance(model.layer2[0].shortcut, ChannelPlacement)
    assert not model.layer2[0].shortcut.weight.requires_grad
    assert torch.equal(model(x), before)


def test_two_pruning_sessions_round_trip(tmp_path):
    model = _pruned(ratio=0.25, round_to=4)
    p = ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5))
    p.prune_to_ratio(0.3)
    p.finish()
    assert len(model.edgecv_pruning["sessions"]) == 2
    # the placement convs stay frozen after pruning re-created their weights
    assert not any(m.weight.requires_grad for m in model.modules() if isinstance(m, ChannelPlacement))
    save_model(model, tmp_path / "m.pt")
    loaded, _ = load_model(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(loaded.eval()(x), model.eval()(x), atol=1e-6)


def test_history_from_another_architecture_is_refused():
    history = _pruned("cifar_resnet20").edgecv_pruning
    with pytest.raises(ValueError, match="different model than 'cifar_resnet32'"):
        replay(create_model("cifar_resnet32", num_classes=10), history)


def test_tampered_history_is_refused():
    history = copy.deepcopy(_pruned().edgecv_pruning)
    shapes = history["sessions"][0]["shapes"]
    shapes["layer1.0.conv1.weight"][0] += 1
    with pytest.raises(ValueError, match="layer1.0.conv1.weight"):
        replay(create_model("cifar_resnet20", num_classes=10), history)
    history = copy.deepcopy(_pruned().edgecv_pruning)
    history["sessions"][0]["groups"][0][0] = "layer9.conv"
    with pytest.raises(ValueError, match="layer9.conv"):
        replay(create_model("cifar_resnet20", num_classes=10), history)
    with pytest.raises(ValueError, match="not an edgecv pruning history"):
        replay(create_model("cifar_resnet20", num_classes=10), {"sessions": []})


def test_checkpoint_with_weights_of_another_pruning_is_refused(tmp_path):
    a, b = _pruned(ratio=0.5), _pruned(ratio=0.25)
    save_model(a, tmp_path / "a.pt")
    blob = torch.load(tmp_path / "a.pt", weights_only=True)
    blob["state_dict"] = b.state_dict()
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="do not match"):
        load_model(tmp_path / "bad.pt")


def test_cli_export_of_a_pruned_file_needs_no_model_name(tmp_path):
    from edgecv.cli import main

    save_model(_pruned(), tmp_path / "p.pt")
    assert main(["export", "--checkpoint", str(tmp_path / "p.pt"), "--to", "onnx", "-o", str(tmp_path / "p.onnx")]) == 0
    assert (tmp_path / "p.onnx").stat().st_size > 0


def test_bn_recalibration_recovers_accuracy_after_a_pruning_step():
    from edgecv.prune.finetune import recalibrate_bn
    from edgecv.prune.measure import top1

    from .cifar import cifar_batches

    model = create_model("cifar_resnet20", checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    val = cifar_batches("val", 20)
    p = ChannelPruner(model, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5))
    p.prune_to_ratio(0.25)
    before = top1(model, val)
    momentum = model.bn1.momentum
    assert recalibrate_bn(model, cifar_batches("train", 40, batch=50)) == 8
    assert model.bn1.momentum == momentum and not model.training
    assert top1(model, val) > before + 10, "fresh BN statistics should recover much of the pruning loss"
