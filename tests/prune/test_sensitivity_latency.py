"""Sensitivity scan -> table, plot and per-layer ratios; latency-targeted control on measured latency."""
import pytest
import torch

from edgecv.models import create_model
from edgecv.prune.latency_target import LatencyController
from edgecv.prune.sensitivity import list_groups, ratios_from_scan, scan_sensitivity, write_scan

from tests.conftest import need_shared


def test_scan_on_the_real_teacher_gives_table_plot_and_ratios(tmp_path):
    from .cifar import cifar_batches

    model = create_model("cifar_resnet20", checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    val = cifar_batches("val", 5, batch=50)
    example = torch.randn(1, 3, 32, 32)
    groups = list_groups(model, example)
    assert len(groups) == 12  # 9 blocks' inner convs + 3 residual streams (the stem joins stage 1)
    assert {"layer1.0.conv1", "layer2.0.conv2", "layer3.0.conv2"} <= {g["group"] for g in groups}
    rows = scan_sensitivity(model, example, val, [0.5])
    assert len(rows) == 12 and all(r["drop"] == pytest.approx(r["base_top1"] - r["top1"]) for r in rows)
    files = write_scan(rows, tmp_path)
    assert (tmp_path / "sensitivity.png").stat().st_size > 1000
    assert "| layer3.0.conv2 |" in (tmp_path / "sensitivity.md").read_text()
    assert set(files) == {"sensitivity_csv", "sensitivity_md", "sensitivity_png"}
    ratios = ratios_from_scan(rows, max_drop=1.0)
    assert all(ratios[r["group"]] == (0.5 if r["drop"] <= 1.0 else 0.0) for r in rows)
    # the ratios are usable as non-uniform per-layer ratios
    from edgecv.prune.pruner import ChannelPruner
    from edgecv.prune.spec import PruneSpec

    p = ChannelPruner(model, example, PruneSpec(macs_ratio=0.5), layer_ratios={"layer1.0.conv1": 0.75, "layer1.1.conv1": 0.0})
    p.prune_to_ratio(0.9)  # end of the schedule: each named layer reaches its own ratio
    assert model.layer1[0].conv1.out_channels == 4 and model.layer1[1].conv1.out_channels == 16


def test_ratios_from_scan_picks_the_largest_safe_ratio():
    rows = [{"group": "a", "ratio": 0.25, "drop": 0.1}, {"group": "a", "ratio": 0.5, "drop": 0.8},
            {"group": "a", "ratio": 0.75, "drop": 4.0}, {"group": "b", "ratio": 0.25, "drop": 2.0}]
    assert ratios_from_scan(rows, 1.0) == {"a": 0.5, "b": 0.0}


def test_controller_reaches_a_target_behind_a_fixed_cost():
    # latency = 0.3 ms fixed + 0.7 ms per unit MACs: 0.6 ms needs MACs <= 3/7 (proportional guess: 0.6)
    c = LatencyController(target_ms=0.6, floor=0.05)
    c.observe(1.0, 1.0)
    ratios = []
    while not c.met and len(ratios) < 10:
        r = c.next_macs_ratio()
        ratios.append(r)
        c.observe(r, 0.3 + 0.7 * r)
    assert c.met and len(ratios) <= 3 and ratios[0] == pytest.approx(0.6)
    assert ratios[-1] <= 3 / 7 + 1e-6 and ratios[-1] > 0.35


def test_latency_targeted_pruning_measures_every_step():
    from edgecv.prune.iterative import prune_model

    model = create_model("cifar_resnet20", num_classes=10)
    # an unreachable target: the run prunes in every step, times each candidate, and reports not met
    res = prune_model(model, latency_ms=1e-4, backend="torch", threads=1, steps=2, input_shape=(1, 3, 32, 32))
    assert not res.met and [r["step"] for r in res.steps] == [0, 1, 2]
    assert all(r["latency_ms_p50"] > 0 for r in res.steps)
    assert res.steps[2]["macs_ratio"] < res.steps[1]["macs_ratio"] < 1.0
    assert res.steps[1]["macs_ratio"] > 0.45  # one step aims at most at half the MACs (plus one sub-step)
    # an easy target is met by the original: nothing is pruned
    model = create_model("cifar_resnet20", num_classes=10)
    res = prune_model(model, latency_ms=1e4, backend="torch", threads=1, steps=2, input_shape=(1, 3, 32, 32))
    assert res.met and len(res.steps) == 1 and model.layer1[0].conv1.out_channels == 16


def test_a_latency_ratio_is_a_target_relative_to_the_unpruned_models_own_p50():
    from edgecv.prune.iterative import prune_model
    from edgecv.prune.spec import PruneSpec

    model = create_model("cifar_resnet20", num_classes=10)
    res = prune_model(model, latency_ratio=0.6, backend="torch", threads=1, steps=3, input_shape=(1, 3, 32, 32))
    base = res.steps[0]["latency_ms_p50"]
    assert f"= {base * 0.6:.4g} ms" in res.target  # the ratio resolved against the measured start
    assert len(res.steps) > 1 and res.steps[1]["macs_ratio"] < 1.0  # it pruned: the start is never <= 0.6x itself
    if res.met:
        assert res.steps[-1]["latency_ms_p50"] <= base * 0.6
    with pytest.raises(ValueError, match="exactly one pruning target"):
        PruneSpec(latency_ratio=0.5, latency_ms=1.0)
    assert PruneSpec(latency_ratio=0.5).describe_target() == "p50 <= 0.5x the unpruned model's on onnxruntime (2 threads)"


def test_max_step_cut_bounds_each_latency_step():
    from edgecv.prune.iterative import prune_model

    model = create_model("cifar_resnet20", num_classes=10)
    # unreachable target: each step cuts as far as allowed, which is 30 % of the MACs left (plus rounding)
    res = prune_model(model, latency_ms=1e-4, backend="torch", threads=1, steps=2, max_step_cut=0.3,
                      input_shape=(1, 3, 32, 32))
    first = res.steps[1]["macs_ratio"]
    assert 0.62 < first < 0.8 and res.steps[2]["macs_ratio"] > first * 0.62
    with pytest.raises(ValueError, match="max_step_cut"):
        prune_model(create_model("cifar_resnet20", num_classes=10), latency_ms=1.0, max_step_cut=1.5)
