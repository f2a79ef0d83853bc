"""A trial's metrics: which ledger row of its run, and the objective values taken from it."""
from __future__ import annotations

import pytest

from edgecv.sweep import SweepError
from edgecv.sweep.objective import (check_objective_settings, directions, parse_metric_row, parse_objectives, score,
                                    trial_metrics)

ROWS = [
    {"role": "teacher", "backend": "torch", "precision": "fp32", "top1": 99.0, "latency_ms_p50": 2.0, "status": "ok"},
    {"role": "student", "backend": "torch", "precision": "fp32", "top1": 96.0, "latency_ms_p50": 0.50, "status": "ok"},
    {"role": "student", "backend": "onnxruntime", "precision": "fp32", "top1": 96.0, "latency_ms_p50": 0.20, "status": "ok"},
    {"role": "student", "backend": "tflite", "precision": "fp32", "top1": 95.5, "latency_ms_p50": 0.15, "status": "ok"},
    {"role": "student", "backend": "tflite", "precision": "int8", "top1": 99.9, "latency_ms_p50": 0.01,
     "status": "export_failed"},  # a failed artifact never counts
    {"role": "pruned", "backend": "onnxruntime", "precision": "int8", "top1": 94.0, "latency_ms_p50": 0.08, "status": "inaccurate"},
    {"role": "student", "kind": "prune_step", "top1": 100.0, "latency_ms_p50": 0.001},  # the pruning log never counts
]


def test_top1_takes_the_students_best_row_and_ties_go_to_the_faster_one():
    m = trial_metrics(ROWS, ["top1"])
    assert m["values"] == [96.0] and m["row"] == "student onnxruntime fp32"
    assert m["metrics"] == {"top1": 96.0, "latency_ms_p50": 0.2}


def test_latency_takes_the_fastest_usable_row():
    m = trial_metrics(ROWS, ["latency"])
    assert m["values"] == [0.15] and m["row"] == "student tflite fp32"


def test_the_metric_row_pins_one_artifact():
    m = trial_metrics(ROWS, ["top1", "latency"], parse_metric_row("role=pruned,backend=onnxruntime,precision=int8"))
    assert m["values"] == [94.0, 0.08] and m["row"] == "pruned onnxruntime int8"


def test_score_is_top1_within_the_bound_and_below_every_such_trial_over_it():
    assert score(90.0, 0.4, 0.5) == 90.0
    assert score(99.0, 0.6, 0.5) == pytest.approx(-1.2)
    assert score(0.0, 0.5, 0.5) > score(99.0, 0.51, 0.5) > score(99.0, 5.0, 0.5)
    m = trial_metrics(ROWS, ["score"], latency_bound=0.18)  # only the tflite row is fast enough
    assert m["row"] == "student tflite fp32" and m["values"] == [95.5]
    m = trial_metrics(ROWS, ["score"], latency_bound=0.01)  # none is: the nearest to the bound ranks best
    assert m["row"] == "student tflite fp32" and m["values"] == [pytest.approx(-15.0)]


def test_no_matching_row_is_a_trial_failure_with_a_reason():
    with pytest.raises(ValueError, match="no ledger row of the run matches --metric-row role=nobody"):
        trial_metrics(ROWS, ["top1"], {"role": "nobody"})
    with pytest.raises(ValueError, match="has latency_ms_p50"):
        trial_metrics([{"role": "student", "top1": 90.0, "latency_ms_p50": None}], ["latency"])


def test_objective_parsing():
    assert parse_objectives("top1,latency") == ["top1", "latency"]
    assert directions(["top1", "latency", "score"]) == ["maximize", "minimize", "maximize"]
    with pytest.raises(SweepError, match="unknown objective"):
        parse_objectives("accuracy")
    with pytest.raises(SweepError, match="listed twice"):
        parse_objectives("top1,top1")
    with pytest.raises(SweepError, match="--latency-bound"):
        check_objective_settings(["score"], None)
    with pytest.raises(SweepError, match="positive"):
        check_objective_settings(["top1"], -1.0)
    assert parse_metric_row(None) == {"role": "student"}
    with pytest.raises(SweepError, match="key=value"):
        parse_metric_row("role")
