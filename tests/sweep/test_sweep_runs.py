"""Sweeps that run: every trial an edgecv run of the tiny digits recipe (a few seconds each)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from edgecv.sweep import prepare_sweep, run_sweep

from .conftest import ROOT, TINY, attempts, run_cli, study_trials, sweep_command

TEMPERATURE = "stages.distill.losses.0.temperature"


def test_grid_sweep_records_a_failing_trial_and_goes_on(tmp_path):
    """student.num_classes=3 passes the schema but fails at run time (3 logits against 10 labels and a
    10-class teacher): both such trials are recorded as failed with their error, the others finish."""
    out = tmp_path / "sweep"
    spec = prepare_sweep(TINY, grid=[f"{TEMPERATURE}=2,8", "student.num_classes=3,10"], objective="latency", out=out)
    lines: list[str] = []
    ledger = run_sweep(spec, echo=lines.append)
    rows = ledger["rows"]
    assert len(rows) == 4 and sum(line.startswith("trial ") for line in lines) == 4
    by_trial = {r["trial"]: r for r in rows}
    # the grid, in order: temperature slowest
    assert [(by_trial[i]["params"][TEMPERATURE], by_trial[i]["params"]["student.num_classes"]) for i in range(4)] == [
        (2, 3), (2, 10), (8, 3), (8, 10)]
    failed, done = [r for r in rows if r["status"] == "failed"], [r for r in rows if r["status"] == "complete"]
    assert {r["trial"] for r in failed} == {0, 2} and {r["trial"] for r in done} == {1, 3}
    for r in failed:
        assert r["error"].startswith("RuntimeError: ") and "size of tensor" in r["error"] and "\n" not in r["error"]
        assert "Traceback" in (out / r["folder"] / "sweep-trial.log").read_text()
    # best first: the finished trials by p50 latency (the objective), then the failed ones
    assert rows[:2] == sorted(done, key=lambda r: r["latency_ms_p50"]) and rows[0]["best"]
    assert [r["status"] for r in rows] == ["complete", "complete", "failed", "failed"]
    for r in done:  # each trial is an ordinary edgecv run in its own folder: its ledger is the trial's metrics
        run = json.loads((out / r["folder"] / "results.json").read_text())
        student = [x for x in run["rows"] if x["role"] == "student"]
        assert [(x["top1"], x["latency_ms_p50"]) for x in student] == [(r["top1"], r["latency_ms_p50"])]
        assert run["recipe"]["stages"][1]["losses"][0]["temperature"] == r["params"][TEMPERATURE]
        assert r["overrides"] == [f"{TEMPERATURE}={r['params'][TEMPERATURE]}", "student.num_classes=10"]
    doc = json.loads((out / "results.json").read_text())
    assert [r["trial"] for r in doc["rows"]] == [r["trial"] for r in rows] and doc["counts"]["failed"] == 2
    report = (out / "report.md").read_text()
    assert "| trial | status | best | temperature | num_classes | top-1 % | p50 ms |" in report
    assert "![history](history.png)" in report and (out / "history.png").stat().st_size > 5000
    # importance needs 2 finished trials whose results differ: drawn, or the ledger says why not
    assert (out / "importance.png").is_file() or any(n.startswith("importance.png") for n in ledger["notes"])

    # run again: everything is finished (failed trials stay failed), nothing reruns
    again = run_sweep(prepare_sweep(TINY, grid=[f"{TEMPERATURE}=2,8", "student.num_classes=3,10"], objective="latency",
                                    out=out), echo=lines.append)
    assert [(r["trial"], r["status"]) for r in again["rows"]] == [(r["trial"], r["status"]) for r in rows]
    assert all(len(attempts(out / r["folder"])) == 1 for r in rows)


def _start_and_signal(args: list[str], folder, sig: int, log_path) -> tuple[int, str]:
    """Start `edgecv sweep ARGS`, send `sig` once the trial in `folder` has started, return (exit code, output)."""
    with open(log_path, "w") as log:
        # Ctrl-C as a terminal delivers it: the child starts with SIGINT's default disposition, whatever this
        # process inherited (a Python started with SIGINT ignored never raises KeyboardInterrupt)
        proc = subprocess.Popen(sweep_command(*args), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 240
            while not attempts(folder) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert proc.poll() is None and attempts(folder), log_path.read_text()
            proc.send_signal(sig)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    return code, log_path.read_text()


def test_an_interrupted_or_killed_sweep_resumes_without_rerunning_finished_trials(tmp_path):
    out = tmp_path / "sweep"
    grid = [f"{TEMPERATURE}=1,2,3,4"]
    args = ["--grid", grid[0], "--out", str(out)]
    slots = lambda: {t.user_attrs["slot"]: t.state.name for t in study_trials(out) if t.state.name != "FAIL"}  # noqa: E731

    # Ctrl-C during trial 1: trial 0 is kept, trial 1 goes back to the queue, the resume command is printed
    code, text = _start_and_signal(args, out / "trials" / "0001", signal.SIGINT, tmp_path / "1.log")
    assert code == 130 and f"resume with: edgecv sweep {TINY} --grid {grid[0]} --out {out}" in text, text
    assert slots() == {0: "COMPLETE", 1: "WAITING", 2: "WAITING", 3: "WAITING"}
    first_result = (out / "trials" / "0000" / "results.json").stat().st_mtime_ns

    # resumed, then killed outright (SIGKILL: no clean-up) during trial 2, after the interrupted trial 1 finished
    code, text = _start_and_signal(args, out / "trials" / "0002", signal.SIGKILL, tmp_path / "2.log")
    assert code == -signal.SIGKILL and "trial 1 (attempt 2) done" in text and "trial 0 " not in text, text
    assert slots() == {0: "COMPLETE", 1: "COMPLETE", 2: "RUNNING", 3: "WAITING"}

    # resumed again: the dead worker's trial 2 is queued again and resumes its run in its folder
    lines: list[str] = []
    ledger = run_sweep(prepare_sweep(TINY, grid=grid, out=out), echo=lines.append)
    assert [ln.split(" done in ")[0] for ln in lines if " done in " in ln] == ["trial 2 (attempt 2)", "trial 3"]
    assert sorted((r["trial"], r["status"], r["attempts"]) for r in ledger["rows"]) == [
        (0, "complete", 1), (1, "complete", 2), (2, "complete", 2), (3, "complete", 1)]
    assert [a for a, _ in attempts(out / "trials" / "0000")] == [1]  # never rerun
    assert (out / "trials" / "0000" / "results.json").stat().st_mtime_ns == first_result
    for slot in (1, 2):
        assert [a for a, _ in attempts(out / "trials" / f"{slot:04d}")] == [1, 2]  # resumed in its own folder
    failed = {t.user_attrs["slot"]: t.user_attrs["error"] for t in study_trials(out) if t.state.name == "FAIL"}
    assert failed[1].startswith("interrupted (Ctrl-C)") and "is gone" in failed[2]


SPACE = ["--tpe", "6", "--space", f"{TEMPERATURE}=1:8:log", "--space", "stages.distill.losses.0.alpha=0:1",
         "--objective", "top1,latency"]


def _check_each_trial_ran_once(outs: list, trials, lines: list[str]) -> None:
    assert len(trials) == 6 and {t.state.name for t in trials} == {"COMPLETE"}
    assert sorted(t.user_attrs["slot"] for t in trials) == list(range(6))
    runs = {slot: [a for out in outs for a in attempts(out / "trials" / f"{slot:04d}")] for slot in range(6)}
    assert all(len(a) == 1 for a in runs.values()), runs  # every trial was run exactly once, by one worker
    workers = {w for a in runs.values() for _, w in a}
    assert len(workers) == 2, runs  # and both workers took trials
    assert {t.user_attrs["worker"]["pid"] for t in trials} == {int(w.rsplit(":", 1)[1]) for w in workers}
    assert sum(" done in " in line for line in lines) == 6


def test_two_workers_share_one_sqlite_study_and_never_run_a_trial_twice(tmp_path):
    """--workers 2: two processes claim trials from the sweep's SQLite study (multi-objective TPE)."""
    out = tmp_path / "sweep"
    res = run_cli(*SPACE, "--workers", "2", "--out", str(out))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    _check_each_trial_ran_once([out], study_trials(out), res.stdout.splitlines())
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["rows"]) == 6 and any(r["best"] for r in doc["rows"])
    assert all((out / name).is_file() for name in ("history-top1.png", "history-latency.png", "pareto-front.png"))


@pytest.mark.parametrize("server", ["postgres", "redis"])
def test_two_machines_share_a_study_on_a_server(tmp_path, server, request):
    """The same command started twice at once with one --storage and two --out folders (as on two
    machines): one creates the study, the other joins it; each trial runs once, each ledger shows all."""
    url = request.getfixturevalue(f"{server}_url")
    study = f"edgecv-test-{uuid.uuid4().hex[:12]}"
    outs = [tmp_path / "a", tmp_path / "b"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen(sweep_command(*SPACE, "--storage", url, "--study", study, "--out", str(out)), cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for out in outs]
    try:
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    _check_each_trial_ran_once(outs, study_trials(outs[0], url, study), "\n".join(logs).splitlines())
    statuses = []
    for out in outs:  # each ledger is the whole study when its process ended
        rows = json.loads((out / "results.json").read_text())["rows"]
        assert sorted(r["trial"] for r in rows) == list(range(6))
        statuses.append({r["status"] for r in rows})
    # the process that ended first may have seen the other's last trial running; the last one saw all finished
    assert all(s <= {"complete", "running"} for s in statuses) and {"complete"} in statuses
