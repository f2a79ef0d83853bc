"""One trial: an ordinary edgecv run of the recipe with the trial's `--set` overrides, in its own folder.

The run goes through `edgecv.app.run(..., resume=RESUME_IF_ANY)`, as `edgecv run`, so a trial that was interrupted
(its worker killed) continues where its run stopped; its output goes to `sweep-trial.log` in the
folder, headed by the equivalent `edgecv run` command. A failing run is recorded as a failed trial with
its error on one line (the traceback is in the log); the sweep goes on.
"""
from __future__ import annotations

import contextlib
import shlex
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import import_optuna
from .objective import trial_metrics
from .space import overrides_for
from .study import HEARTBEAT_S, SweepSpec, requeue, sampler_for, trial_folder, worker_identity

LOG = "sweep-trial.log"


@dataclass
class Outcome:
    number: int
    slot: int
    attempt: int
    state: str                               # complete | failed
    params: dict[str, Any]
    folder: Path
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    row: str | None = None
    error: str | None = None


def run_trial(spec: SweepSpec, study, storage, trial_id: int) -> Outcome:
    """Run the claimed trial `trial_id` and tell the study how it went."""
    optuna = import_optuna()
    s = storage.optuna
    frozen = s.get_trial(trial_id)
    slot, attempt = int(frozen.user_attrs.get("slot", frozen.number)), int(frozen.user_attrs.get("attempt", 1))
    folder = Path(spec.out) / frozen.user_attrs.get("folder", trial_folder(slot))
    t0 = time.perf_counter()
    params: dict[str, Any] = {}
    folder.mkdir(parents=True, exist_ok=True)
    with _Heartbeat(s, trial_id), _trial_log(folder / LOG, attempt) as log:
        try:
            study.sampler = sampler_for(spec, frozen.number)
            study.get_trials(deepcopy=False)  # Optuna's trial cache learns of the trial claimed behind its back
            trial = optuna.Trial(study, trial_id)
            params = {d.key: d.suggest(trial) for d in spec.dims}
            overrides = overrides_for(params)
            s.set_trial_user_attr(trial_id, "overrides", overrides)
            log.write(f"{run_command(spec, overrides, folder)}\n")
            with _output_to(log):
                result = _run(spec, overrides, folder)
        except KeyboardInterrupt:  # Ctrl-C: the trial goes back to the queue, to resume from its folder
            log.write("interrupted\n")
            requeue(study, storage, s.get_trial(trial_id), "interrupted (Ctrl-C); it resumes from its folder")
            raise
        except Exception as e:
            from ..utils.errors import first_line

            traceback.print_exc(file=log)
            error = f"{type(e).__name__}: {first_line(e)}"
            seconds = round(time.perf_counter() - t0, 2)
            s.set_trial_user_attr(trial_id, "error", error)
            s.set_trial_user_attr(trial_id, "seconds", seconds)
            study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
            return Outcome(frozen.number, slot, attempt, "failed", params, folder, seconds, error=error)
    seconds = round(time.perf_counter() - t0, 2)
    s.set_trial_user_attr(trial_id, "metrics", result["metrics"])
    s.set_trial_user_attr(trial_id, "row", result["row"])
    s.set_trial_user_attr(trial_id, "seconds", seconds)
    study.tell(frozen.number, result["values"])
    return Outcome(frozen.number, slot, attempt, "complete", params, folder, seconds, result["metrics"], result["row"])


def _run(spec: SweepSpec, overrides: list[str], folder: Path) -> dict:
    from ..app import run  # the front door `edgecv run` goes through
    from ..pipeline import RESUME_IF_ANY

    # The folder holds the trial's log from the start: continue a run if one is there, else start one.
    ctx = run(spec.recipe, out_dir=folder, resume=RESUME_IF_ANY, overrides=[*spec.sets, *overrides])
    return trial_metrics(ctx.results, spec.objectives, spec.metric_row, spec.latency_bound)


def run_command(spec: SweepSpec, overrides: list[str], folder: Path) -> str:
    """The `edgecv run` command that is this trial."""
    sets = "".join(f" --set {shlex.quote(o)}" for o in [*spec.sets, *overrides])
    return f"edgecv run {shlex.quote(spec.recipe)} --out {shlex.quote(str(folder))}{sets} --resume"


@contextlib.contextmanager
def _trial_log(path: Path, attempt: int):
    """The trial's log (appended to by each attempt), headed by who runs it; the run's output (stdout,
    stderr, the rich console) and the traceback of a failure go there."""
    w = worker_identity()
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"== attempt {attempt} by {w['host']}:{w['pid']} at {datetime.now().isoformat(timespec='seconds')}: ")
        yield log


@contextlib.contextmanager
def _output_to(log):
    """Everything the run prints goes to `log`: Python's sys.stdout/stderr (the rich console among them)
    and, at the file-descriptor level, what native libraries write (TFLite's converter, ONNX Runtime)."""
    import os
    import sys

    saved = []
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        saved = [(fd, os.dup(fd)) for fd in (1, 2)]
        for fd, _ in saved:
            os.dup2(log.fileno(), fd)
    except OSError:  # no usable fds 1/2 (an embedded interpreter): Python-level output only
        pass
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        log.flush()
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


class _Heartbeat:
    """Writes the trial's `heartbeat` (epoch seconds) every HEARTBEAT_S while the run goes on."""

    def __init__(self, storage, trial_id: int, every: float = HEARTBEAT_S):
        self.storage, self.trial_id, self.every = storage, trial_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="edgecv-sweep-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.storage.set_trial_user_attr(self.trial_id, "heartbeat", time.time())
            except Exception:  # the trial just finished, or the storage hiccupped: the next beat retries
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
