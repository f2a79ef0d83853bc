"""The sweep's settings and its Optuna study: creating or joining it, its plan of trials, the sampler,
claiming the next trial, and re-queueing the trial of a worker that died.

The plan: the study is created with every trial it will run already in Optuna's trial queue
(`enqueue_trial`): each grid point (the Cartesian product, in order), N points drawn by Optuna's
RandomSampler with the seed (so the same seed gives the same trials, whatever the number of workers),
or N empty slots whose values TPE (Optuna's TPESampler, multi-objective when there are several
objectives) samples when a worker claims them, from the trials finished by then. Workers claim queued
trials one at a time under the storage's lock, so each trial runs once, however many workers and machines
share the study; Optuna's own GridSampler could hand two workers the same point.

A claimed trial records its worker (host, pid) and a heartbeat. When a worker dies (killed, machine
lost), its trial is re-queued with the same values and the same folder, and the next claim resumes
the run there: at once when the dead worker was on this host (its pid is gone), otherwise when its
heartbeat is older than `stale_after` seconds.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import SweepError, import_optuna
from .objective import directions
from .space import Dim, grid_points

MODES = ("grid", "random", "tpe")
MAX_ATTEMPTS = 3          # a trial whose worker died this many times is left failed
STALE_AFTER_S = 600.0     # a remote worker's trial is re-queued when its heartbeat is this old
HEARTBEAT_S = 30.0
PLAN_WAIT_S = 60.0        # a joining worker waits this long for the creator to finish queueing the plan


@dataclass
class SweepSpec:
    """Everything one sweep is: what defines its study (`settings()`), plus where it runs."""

    recipe: str                       # absolute path of the recipe file
    recipe_name: str
    recipe_sha: str                   # the recipe file's content (a changed recipe is another sweep)
    mode: str                         # grid | random | tpe
    dims: list[Dim]
    trials: int                       # how many trials the plan holds
    objectives: list[str]
    out: str                          # the sweep folder (absolute)
    sets: list[str] = field(default_factory=list)
    latency_bound: float | None = None
    metric_row: dict[str, str] = field(default_factory=lambda: {"role": "student"})
    seed: int = 0
    storage: str | None = None        # None: a SQLite file in the sweep folder
    study_name: str | None = None
    stale_after: float = STALE_AFTER_S

    def settings(self) -> dict[str, Any]:
        """What makes two sweeps the same study (not where they run: folder, storage, workers)."""
        return {"recipe_name": self.recipe_name, "recipe_sha": self.recipe_sha, "sets": list(self.sets),
                "mode": self.mode, "space": [d.text() for d in self.dims], "trials": self.trials,
                "objectives": list(self.objectives), "latency_bound": self.latency_bound,
                "metric_row": dict(self.metric_row), "seed": self.seed}

    def fingerprint(self) -> str:
        canonical = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def name(self) -> str:
        """The study's name: given, or made from the recipe and the settings, so the same command on
        another machine (same --storage) joins the same study."""
        return self.study_name or f"{self.recipe_name}-{self.mode}-{self.fingerprint()[:10]}"

    @property
    def storage_url(self) -> str:
        from .storage import default_url

        return self.storage or default_url(self.out)

    def to_json(self) -> dict:
        d = asdict(self)
        d["dims"] = [dim.to_json() for dim in self.dims]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        d = dict(d)
        d["dims"] = [Dim.from_json(x) for x in d["dims"]]
        return cls(**d)


def quiet_optuna():
    optuna = import_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_study(spec: SweepSpec, storage, create: bool = True):
    """Create the study (and queue its plan) or join it; refuses a study made by other settings."""
    optuna = quiet_optuna()
    sampler = optuna.samplers.RandomSampler(seed=spec.seed)  # replaced per trial for TPE (see `sampler_for`)
    created = False
    if create:
        try:
            study = optuna.create_study(study_name=spec.name, storage=storage.optuna, sampler=sampler,
                                        directions=directions(spec.objectives))
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            pass
    if not created:
        try:
            study = optuna.load_study(study_name=spec.name, storage=storage.optuna, sampler=sampler)
        except KeyError:
            raise SweepError(f"no study '{spec.name}' in {storage.shown}") from None
    if created:
        study.set_user_attr("edgecv_sweep", spec.settings())
        queue_plan(spec, study, storage)
    else:
        _wait_for_plan(spec, study, storage)
    return study


def _wait_for_plan(spec: SweepSpec, study, storage) -> None:
    deadline = time.monotonic() + PLAN_WAIT_S
    while "edgecv_planned" not in study.user_attrs and time.monotonic() < deadline:
        time.sleep(0.5)
    recorded = study.user_attrs.get("edgecv_sweep")
    if recorded is not None and recorded != spec.settings():
        diffs = [f"{k}: {json.dumps(recorded.get(k))} -> {json.dumps(v)}" for k, v in spec.settings().items()
                 if recorded.get(k) != v]
        raise SweepError(f"study '{spec.name}' in {storage.shown} was made by another sweep ({'; '.join(diffs)}); "
                         "run that sweep's command, or give another --study name")
    have, wanted = [d.name.lower() for d in study.directions], directions(spec.objectives)
    if have != wanted:
        raise SweepError(f"study '{spec.name}' in {storage.shown} has directions {have}, not {wanted}; "
                         "give another --study name")
    if "edgecv_planned" not in study.user_attrs:  # its creator died while queueing: finish the plan
        if recorded is None:
            study.set_user_attr("edgecv_sweep", spec.settings())
        queue_plan(spec, study, storage)


def plan(spec: SweepSpec) -> list[dict[str, Any]]:
    """The values of each planned trial ({} for TPE: sampled when claimed)."""
    if spec.mode == "grid":
        return grid_points(spec.dims)
    if spec.mode == "random":
        optuna = quiet_optuna()
        draw = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.seed))  # in memory
        dists = {d.key: d.distribution() for d in spec.dims}
        return [dict(draw.ask(dists).params) for _ in range(spec.trials)]
    return [{} for _ in range(spec.trials)]


def queue_plan(spec: SweepSpec, study, storage) -> None:
    """Queue every planned trial not in the study yet (by slot), then mark the plan complete."""
    with storage.lock(spec.name):
        have = {t.user_attrs.get("slot") for t in study.get_trials(deepcopy=False)}
        for slot, params in enumerate(plan(spec)):
            if slot not in have:
                enqueue(study, storage, params, {"slot": slot, "folder": trial_folder(slot), "attempt": 1})
        study.set_user_attr("edgecv_planned", spec.trials)


def trial_folder(slot: int) -> str:
    """A trial's run folder, relative to the sweep folder."""
    return f"trials/{slot:04d}"


def sampler_for(spec: SweepSpec, trial_number: int):
    """The sampler a claimed trial is built with: TPE seeded per trial (reproducible with one worker;
    several workers never draw the same start-up points), or the RandomSampler (grid and random
    trials carry their planned values)."""
    optuna = import_optuna()
    if spec.mode != "tpe":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    import warnings

    startup = max(2, min(10, spec.trials // 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=spec.seed * 100_003 + trial_number, n_startup_trials=startup,
                                          multivariate=True, constant_liar=True)


# -- claiming, and the trials of dead workers -------------------------------------------------------

HOST = socket.gethostname()


def worker_identity() -> dict[str, Any]:
    return {"host": HOST, "pid": os.getpid(), "start": _process_start(os.getpid())}


def worker_alive(worker: dict) -> bool | None:
    """True/False for a worker on this host; None for one elsewhere (its heartbeat tells)."""
    if worker.get("host") != HOST:
        return None
    pid = int(worker.get("pid", -1))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    start = worker.get("start")
    return start is None or _process_start(pid) in (None, start)  # same pid, same process (not a reused pid)


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22: start time in clock ticks since boot


def is_stale(trial, stale_after: float, now: float | None = None) -> str | None:
    """Why a RUNNING trial's worker is gone ('worker host:pid is gone', ...), or None if it may live."""
    now = time.time() if now is None else now
    w = trial.user_attrs.get("worker")
    if w:
        alive = worker_alive(w)
        if alive is False:
            return f"its worker {w['host']}:{w['pid']} is gone"
        if alive:
            return None
    beat = trial.user_attrs.get("heartbeat")
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()
    if beat is not None and now - float(beat) > stale_after:
        who = f"{w['host']}:{w['pid']}" if w else "an unknown worker"
        return f"no heartbeat from {who} for {now - float(beat):.0f} s"
    return None


def recover_stale(spec: SweepSpec, study, storage) -> list[int]:
    """Re-queue (same values, same folder) every RUNNING trial whose worker is gone; call under the lock.
    Returns the numbers of the trials re-queued."""
    optuna = import_optuna()
    sid = storage.optuna.get_study_id_from_name(study.study_name)
    out = []
    for t in storage.optuna.get_all_trials(sid, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        why = is_stale(t, spec.stale_after)
        if why and requeue(study, storage, t, f"interrupted: {why}"):
            out.append(t.number)
    return out


def requeue(study, storage, trial, reason: str) -> bool:
    """Fail `trial` with `reason` and queue a copy (values, slot, folder; attempt + 1) that resumes its
    run; after MAX_ATTEMPTS it stays failed. False if another worker finished it first."""
    optuna = import_optuna()
    s = storage.optuna
    tid = s.get_trial_id_from_study_id_trial_number(s.get_study_id_from_name(study.study_name), trial.number)
    attempt = int(trial.user_attrs.get("attempt", 1))
    retry = attempt < MAX_ATTEMPTS
    try:
        s.set_trial_user_attr(tid, "error", reason if retry else f"{reason} (attempt {attempt} of {MAX_ATTEMPTS}: given up)")
        s.set_trial_user_attr(tid, "retried", retry)
        s.set_trial_state_values(tid, optuna.trial.TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    if retry:
        params = {**trial.system_attrs.get("fixed_params", {}), **trial.params}
        attrs = {k: trial.user_attrs[k] for k in ("slot", "folder") if k in trial.user_attrs}
        enqueue(study, storage, params, {**attrs, "attempt": attempt + 1, "retry_of": trial.number})
    return True


def enqueue(study, storage, params: dict[str, Any], user_attrs: dict[str, Any]) -> None:
    """`study.enqueue_trial(params, user_attrs)`, written straight to the storage: through the study, Optuna's
    trial cache would record the new trial ahead of older ones it has not read yet, and lose those."""
    optuna = import_optuna()
    template = optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, user_attrs=user_attrs,
                                         system_attrs={"fixed_params": params})
    s = storage.optuna
    s.create_new_trial(s.get_study_id_from_name(study.study_name), template_trial=template)


def claim(spec: SweepSpec, study, storage) -> int | None:
    """Take the next queued trial (retries first, then by slot); its trial id, or None when the queue is
    empty. Dead workers' trials are re-queued first. Each trial is handed to exactly one worker."""
    optuna = import_optuna()
    s = storage.optuna
    waiting_state = optuna.trial.TrialState.WAITING
    with storage.lock(spec.name):
        recover_stale(spec, study, storage)
        sid = s.get_study_id_from_name(study.study_name)
        waiting = s.get_all_trials(sid, deepcopy=False, states=(waiting_state,))
        for t in sorted(waiting, key=lambda t: (-int(t.user_attrs.get("attempt", 1)), t.user_attrs.get("slot", 1 << 30), t.number)):
            tid = s.get_trial_id_from_study_id_trial_number(sid, t.number)
            try:
                if s.set_trial_state_values(tid, optuna.trial.TrialState.RUNNING):
                    s.set_trial_user_attr(tid, "worker", worker_identity())
                    s.set_trial_user_attr(tid, "heartbeat", time.time())
                    return tid
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
    return None
