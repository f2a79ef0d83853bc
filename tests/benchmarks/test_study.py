"""The CIFAR-10 study driver's planning and reporting (benchmarks/cifar10/study.py), without training anything:
which parts the default and `--all` run, how the accuracy-vs-epochs curve reads the parts' metrics, and how the
targets judge KD against labels alone per seed."""
from __future__ import annotations

import argparse
import csv
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("cifar10_study", ROOT / "benchmarks" / "cifar10" / "study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(tmp_path, **kw):
    base = dict(scale=1.0, max_train=None, max_val=None, out=tmp_path, latency_fraction=0.5, macs_fraction=None, all=False)
    return argparse.Namespace(**{**base, **kw})


def _setting(part, key):
    return next(s.split("=", 1)[1] for s in part["set"] if s.startswith(key + "="))


def test_the_default_runs_the_candidates_the_comparison_and_one_long_mobilenet(study, tmp_path):
    names = [p["name"] for p in study.parts(_args(tmp_path))]
    assert names == ["teacher", "pruned-tflite", "kd-resnet20", "compare-kd-s0", "compare-ce-s0", "compare-kd-s1",
                     "compare-ce-s1", "kd-cifar_mobilenetv2_050"]
    parts = {p["name"]: p for p in study.parts(_args(tmp_path))}
    assert float(_setting(parts["pruned-tflite"], "stages.prune.macs_ratio")) == study.PRUNE_TFLITE_MACS
    # equal budget: the two halves of a seed see the same subset, seed and epochs
    for seed in study.COMPARE_SEEDS:
        kd, ce = parts[f"compare-kd-s{seed}"], parts[f"compare-ce-s{seed}"]
        assert _setting(kd, "seed") == _setting(ce, "seed") == str(seed)
        assert _setting(kd, "data.max_train") == _setting(ce, "data.max_train") == str(study.COMPARE_IMAGES)
        assert _setting(kd, "stages.distill.epochs") == _setting(ce, "stages.train.epochs")


def test_scale_and_all(study, tmp_path):
    scaled = {p["name"]: p for p in study.parts(_args(tmp_path, scale=2.0))}
    assert int(_setting(scaled["pruned-tflite"], "stages.prune.final_epochs")) == 2 * study.PRUNE_RECOVERY_EPOCHS
    assert int(_setting(scaled["kd-cifar_mobilenetv2_050"], "stages.distill.epochs")) == 2 * study.MOBILENET_EPOCHS
    everything = [p["name"] for p in study.parts(_args(tmp_path, all=True))]
    assert len(everything) == len(set(everything))
    assert {"ensemble", "pruned-macs", "kd-cifar_squeezenet1_1", "ce-cifar_squeezenet1_1"} <= set(everything)
    assert "ce-cifar_mobilenetv2_050" not in everything  # the long MobileNet has no 4-epoch twin to be paired with


def _metrics(path: Path, top1s: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "val_top1", "train_seconds"])
        for i, t in enumerate(top1s, 1):
            w.writerow([i, 1.0, t, 60.0])


def test_curves_number_a_pruning_parts_epochs_through_its_steps_and_recovery(study, tmp_path):
    pruned, kd = tmp_path / "pruned", tmp_path / "kd"
    _metrics(pruned / "stages" / "0_prune" / "step2" / "metrics.csv", [80.0])
    _metrics(pruned / "stages" / "0_prune" / "step1" / "metrics.csv", [85.0])
    _metrics(pruned / "stages" / "0_prune" / "final" / "metrics.csv", [88.0, 90.5])
    _metrics(kd / "stages" / "0_distill" / "metrics.csv", [91.0, 91.5, 91.2])
    points = study.curves({"pruned-tflite": {"folder": str(pruned)}, "kd-resnet20": {"folder": str(kd)}})
    mine = [(p["epoch"], p["phase"], p["val_top1"]) for p in points if p["part"] == "pruned-tflite"]
    assert mine == [(1, "step1", 85.0), (2, "step2", 80.0), (3, "final", 88.0), (4, "final", 90.5)]
    table = study.curve_table(points, ["pruned-tflite", "kd-resnet20"]).splitlines()
    assert table[0] == "| epoch | pruned-tflite | kd-resnet20 |"
    assert table[2] == "| 1 | 85.00 (step1) | 91.00 |"
    assert table[-1] == "| 4 | 90.50 |  |"
    png = study.plot_curves(points, 92.86, tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def _stage(kind: str, top1: float) -> dict:
    return {"stages": [{"type": kind, "best_top1": top1}]}


def test_kd_target_is_judged_per_seed(study):
    results = {"compare-kd-s0": _stage("distill", 60.0), "compare-ce-s0": _stage("train", 55.0),
               "compare-kd-s1": _stage("distill", 56.0), "compare-ce-s1": _stage("train", 55.0),
               "kd-cifar_mobilenetv2_050": _stage("distill", 88.5)}
    rows = [{"role": "teacher", "backend": "torch", "precision": "fp32", "top1": 92.86}]
    checks = {c["target"]: c for c in study.targets(rows, results)}
    seed0 = next(c for t, c in checks.items() if t.startswith("KD") and "seed 0" in t)
    seed1 = next(c for t, c in checks.items() if t.startswith("KD") and "seed 1" in t)
    assert seed0["met"] and "+5.00 pt" in seed0["measured"]
    assert not seed1["met"] and "+1.00 pt" in seed1["measured"]
    mobile = checks["a MobileNet student within 5 pt of the teacher"]
    assert mobile["met"] and "-4.36 pt" in mobile["measured"]
