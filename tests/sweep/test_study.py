"""The study behind a sweep: its plan (reproducible random draws), the sweep folder's guard, the
ledger's order and Optuna's plots. Nothing here runs a trial."""
from __future__ import annotations

import json

import optuna
import pytest

from edgecv.sweep import SweepError, prepare_sweep
from edgecv.sweep.driver import start_sweep
from edgecv.sweep.report import ledger_rows, short_names, write_plots
from edgecv.sweep.study import is_stale, worker_identity

from .conftest import TINY, study_trials

SPACE = ["stages.distill.losses.0.temperature=1:8:log", "stages.distill.losses.0.alpha=0:1", "stages.distill.epochs=1:3"]


def planned(out) -> list[dict]:
    return [t.system_attrs["fixed_params"] for t in sorted(study_trials(out), key=lambda t: t.number)]


def test_random_sampling_is_reproducible_with_a_seed(tmp_path):
    plans = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        spec = prepare_sweep(TINY, random=5, space=SPACE, seed=seed, out=tmp_path / name)
        start_sweep(spec)
        plans[name] = planned(tmp_path / name)
    assert len(plans["a"]) == 5 and plans["a"] == plans["b"]
    assert plans["a"] != plans["c"]
    for p in plans["a"]:
        assert 1.0 <= p["stages.distill.losses.0.temperature"] <= 8.0
        assert 0.0 <= p["stages.distill.losses.0.alpha"] <= 1.0
        assert p["stages.distill.epochs"] in (1, 2, 3)
    assert len({json.dumps(p, sort_keys=True) for p in plans["a"]}) == 5


def test_the_grid_is_queued_once_in_order(tmp_path):
    spec = prepare_sweep(TINY, grid=["stages.distill.losses.0.temperature=2,4", "stages.distill.losses.0.alpha=0.1,0.9"],
                         out=tmp_path / "g")
    start_sweep(spec)
    start_sweep(spec)  # joining the same sweep again queues nothing more
    trials = study_trials(tmp_path / "g")
    assert [t.state.name for t in trials] == ["WAITING"] * 4
    assert [t.user_attrs["slot"] for t in trials] == [0, 1, 2, 3]
    assert [t.system_attrs["fixed_params"] for t in trials] == [
        {"stages.distill.losses.0.temperature": 2, "stages.distill.losses.0.alpha": 0.1},
        {"stages.distill.losses.0.temperature": 2, "stages.distill.losses.0.alpha": 0.9},
        {"stages.distill.losses.0.temperature": 4, "stages.distill.losses.0.alpha": 0.1},
        {"stages.distill.losses.0.temperature": 4, "stages.distill.losses.0.alpha": 0.9}]


def test_a_folder_of_another_sweep_is_refused(tmp_path):
    start_sweep(prepare_sweep(TINY, grid=["stages.distill.losses.0.temperature=2,4"], out=tmp_path / "s"))
    other = prepare_sweep(TINY, grid=["stages.distill.losses.0.temperature=2,8"], out=tmp_path / "s")
    with pytest.raises(SweepError, match=r"holds another sweep \(space: .*temperature=2,4.* -> .*temperature=2,8"):
        start_sweep(other)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="is not a sweep folder"):
        start_sweep(prepare_sweep(TINY, grid=["stages.distill.losses.0.temperature=2,4"], out=tmp_path / "x"))
    assert (tmp_path / "x" / "notes.txt").read_text() == "mine"


def test_a_moved_sweep_folder_resumes_but_not_on_another_storage(tmp_path):
    grid = ["stages.distill.losses.0.temperature=2,4"]
    start_sweep(prepare_sweep(TINY, grid=grid, out=tmp_path / "a"))
    (tmp_path / "a").rename(tmp_path / "b")
    _, study = start_sweep(prepare_sweep(TINY, grid=grid, out=tmp_path / "b"))  # its own study.db, found again
    assert len(study.get_trials()) == 2
    with pytest.raises(SweepError, match=r"its study is in the folder \(study.db\), not sqlite:///.*; drop --storage"):
        start_sweep(prepare_sweep(TINY, grid=grid, out=tmp_path / "b", storage=f"sqlite:///{tmp_path}/other.db"))


def test_a_dead_local_worker_is_stale_at_once_a_live_one_is_not():
    class T:  # a RUNNING trial as the storage returns it
        def __init__(self, worker, heartbeat):
            self.user_attrs = {"worker": worker, "heartbeat": heartbeat}
            self.datetime_start = None

    import subprocess
    import sys
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = worker_identity()
    assert is_stale(T(me, time.time()), 600) is None
    assert is_stale(T({**me, "pid": gone.pid, "start": None}, time.time()), 600) == f"its worker {me['host']}:{gone.pid} is gone"
    elsewhere = {"host": "another-machine", "pid": 1, "start": None}
    assert is_stale(T(elsewhere, time.time() - 30), 600) is None
    assert "no heartbeat from another-machine:1" in is_stale(T(elsewhere, time.time() - 700), 600)


def _study_with(values: list[tuple[float, float]], directions=("maximize",)):
    study = optuna.create_study(directions=list(directions))
    dists = {"stages.distill.losses.0.temperature": optuna.distributions.FloatDistribution(1, 8),
             "stages.distill.losses.0.alpha": optuna.distributions.FloatDistribution(0, 1)}
    for i, (temperature, alpha) in enumerate(values):
        objective = [temperature * 10 + alpha] + ([temperature - alpha] if len(directions) > 1 else [])
        study.add_trial(optuna.trial.create_trial(
            params={"stages.distill.losses.0.temperature": temperature, "stages.distill.losses.0.alpha": alpha},
            distributions=dists, values=objective,
            user_attrs={"slot": i, "metrics": {"top1": objective[0]}, "folder": f"trials/{i:04d}"}))
    return study


def _spec(tmp_path, objective="top1"):
    return prepare_sweep(TINY, tpe=4, space=SPACE[:2], objective=objective, out=tmp_path)


def test_plots_history_and_importance_or_a_reason(tmp_path):
    study = _study_with([(2.0, 0.1), (4.0, 0.5), (6.0, 0.2), (3.0, 0.9)])
    files, notes = write_plots(_spec(tmp_path), study, tmp_path)
    assert sorted(f.name for f in files) == ["history.png", "importance.png"] and notes == []
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    one = tmp_path / "one"
    files, notes = write_plots(_spec(one), _study_with([(2.0, 0.1)]), one)
    assert [f.name for f in files] == ["history.png"]
    assert notes and notes[0].startswith("importance.png: not drawn (parameter importance needs 2 finished trials")


def test_multi_objective_ledger_puts_the_pareto_set_first(tmp_path):
    study = _study_with([(2.0, 0.1), (4.0, 0.5), (6.0, 0.2), (3.0, 0.9)], directions=("maximize", "minimize"))
    spec = _spec(tmp_path, "top1,latency")
    rows = ledger_rows(spec, study)
    pareto = [r for r in rows if r["best"]]
    values = {r["trial"]: r["values"] for r in rows}
    dominated = lambda a, b: b[0] >= a[0] and b[1] <= a[1] and b != a  # noqa: E731
    assert {r["trial"] for r in pareto} == {t for t, v in values.items() if not any(dominated(v, w) for w in values.values())}
    assert rows[:len(pareto)] == pareto
    files, _ = write_plots(spec, study, tmp_path)
    assert {"history-top1.png", "history-latency.png", "importance-top1.png", "pareto-front.png"} <= {f.name for f in files}


def test_short_names_tell_keys_apart():
    assert short_names(["stages.distill.losses.0.temperature", "stages.prune.macs_ratio"]) == {
        "stages.distill.losses.0.temperature": "temperature", "stages.prune.macs_ratio": "macs_ratio"}
    # a name never starts at a list index: "0.epochs" reads worse than the whole key
    assert short_names(["stages.0.epochs", "stages.1.epochs", "data.batch_size"]) == {
        "stages.0.epochs": "stages.0.epochs", "stages.1.epochs": "stages.1.epochs", "data.batch_size": "batch_size"}
