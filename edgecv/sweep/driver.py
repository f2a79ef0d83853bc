"""One `edgecv sweep`: check every input, open (or join) the study, run the workers, write the ledger.

    spec = prepare_sweep("recipes/quickstart.yaml", grid=["stages.distill.losses.0.temperature=2,4,8"])
    ledger = run_sweep(spec, workers=1)      # {'rows': [...best first], 'files': [...], 'notes': [...]}

Everything that can be checked is checked before any trial runs: the keys and values against the
recipe schema, the objectives, the sweep folder (a folder of another sweep is refused) and the
storage (connected to, with a short timeout).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import SweepError
from .objective import check_objective_settings, parse_metric_row, parse_objectives
from .space import Dim, parse_grid, parse_space, validate_dims
from .study import SweepSpec, open_study

META = "sweep.json"
MAX_GRID = 10_000


@dataclass(frozen=True)
class SweepOptions:
    """What to search and how (the `edgecv sweep` flags, as text: they are parsed and checked here)."""
    grid: Sequence[str] = ()  # key.path=v1,v2 ...: every combination
    space: Sequence[str] = ()  # key.path=low:high[:log] or key.path=v1,v2, for random / tpe
    random: int | None = None  # trials drawn at random from the space
    tpe: int | None = None  # trials chosen by TPE from the space
    objective: str = "top1"  # top1, latency or score; several, comma-separated, make a multi-objective study
    latency_bound: float | None = None  # ms, for the score objective
    metric_row: str | None = None  # key=value,... choosing the scored ledger row
    seed: int = 0
    storage: str | None = None  # an Optuna storage URL; default: a SQLite file in the sweep folder
    study: str | None = None  # the study's name; default: from the recipe and the settings
    out: str | Path | None = None  # the sweep folder
    sets: Sequence[str] = ()  # fixed --set overrides of every trial


def prepare_sweep(recipe: str | Path, options: SweepOptions | None = None, **fields) -> SweepSpec:
    """Parse and check a sweep's inputs (nothing runs, nothing is written); a SweepError names the first
    problem. `options` (or its fields as keywords) say what to search."""
    from ..recipe import read_recipe_file, recipe_fingerprint
    from ..utils.options import with_fields

    o = with_fields(SweepOptions, options, fields, "prepare_sweep")
    grid, space, random, tpe, objective, sets = o.grid, o.space, o.random, o.tpe, o.objective, o.sets
    latency_bound, out = o.latency_bound, o.out

    modes = [m for m, on in (("grid", bool(grid)), ("random", random is not None), ("tpe", tpe is not None)) if on]
    if len(modes) != 1:
        raise SweepError("give one search: --grid key.path=v1,v2 ..., --random N --space ..., or --tpe N --space ..."
                         if not modes else f"give one search, not {' and '.join('--' + m for m in modes)}")
    mode = modes[0]
    if mode == "grid" and space:
        raise SweepError("--space is for --random/--tpe; a grid lists its values: --grid key.path=v1,v2")
    if mode != "grid":
        if not space:
            raise SweepError(f"--{mode} N needs the space to sample: --space key.path=low:high[:log] (repeatable)")
        n = random if mode == "random" else tpe
        if n < 1:
            raise SweepError(f"--{mode} needs a number of trials >= 1 (got {n})")
    dims: list[Dim] = [parse_grid(g) for g in grid] if mode == "grid" else [parse_space(s) for s in space]
    objectives = parse_objectives(objective)
    check_objective_settings(objectives, latency_bound)
    row = parse_metric_row(o.metric_row)
    base, dims = validate_dims(recipe, sets, dims)
    if not any(st.type in ("evaluate", "benchmark") for st in base.stages):
        raise SweepError(f"{recipe}: the recipe has no evaluate or benchmark stage, so its runs measure nothing to "
                         "optimise; add one (e.g. `- {type: evaluate}`)")
    if mode == "grid":
        trials = _grid_size(dims)
        if trials > MAX_GRID:
            raise SweepError(f"--grid: {trials} combinations is more than {MAX_GRID}; use --random N or --tpe N")
    else:
        trials = int(random if mode == "random" else tpe)
    raw = read_recipe_file(Path(recipe))
    if out is None:
        from ..pipeline import default_out_dir

        out = default_out_dir(f"{base.name}-sweep")
    return SweepSpec(recipe=str(Path(recipe).resolve()), recipe_name=base.name,
                     recipe_sha=recipe_fingerprint(raw)["sha256"], mode=mode, dims=dims, trials=trials,
                     objectives=objectives, out=str(Path(out).expanduser().resolve()), sets=list(sets),
                     latency_bound=latency_bound, metric_row=row, seed=o.seed, storage=o.storage, study_name=o.study)


def _grid_size(dims: Sequence[Dim]) -> int:
    n = 1
    for d in dims:
        n *= len(d.choices)
    return n


def start_sweep(spec: SweepSpec):
    """Check the sweep folder, reach the storage, create or join the study (queueing its plan);
    returns (storage, study). Nothing is left behind when this fails on a new folder."""
    from .storage import hide_password, open_storage

    out = Path(spec.out)
    _check_folder(spec, out, hide_password(spec.storage) if spec.storage else None)
    storage = open_storage(spec.storage) if spec.storage else None  # a server: reached before anything is written
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        storage = storage or open_storage(spec.storage_url)
        study = open_study(spec, storage)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    from ..utils.io import write_json

    write_json(out / META, {"settings": spec.settings(), "study": spec.name, "storage": storage.shown,
                            "default_storage": spec.storage is None, "recipe": spec.recipe,
                            "space": [d.text() for d in spec.dims]})
    return storage, study


def _check_folder(spec: SweepSpec, out: Path, storage_shown: str | None) -> None:
    """A sweep folder is resumed only by the same sweep on the same storage (None: the folder's own SQLite)."""
    meta = out / META
    if meta.is_file():
        old = json.loads(meta.read_text())
        settings = spec.settings()
        diffs = [f"{k}: {json.dumps(old['settings'].get(k))} -> {json.dumps(v)}" for k, v in settings.items()
                 if old.get("settings", {}).get(k) != v]
        if diffs:
            raise SweepError(f"--out {out} holds another sweep ({'; '.join(diffs)}); rerun that sweep's command to "
                             "resume it, or choose another --out")
        if old.get("study") != spec.name:
            raise SweepError(f"--out {out} holds study '{old.get('study')}', not '{spec.name}'; pass --study "
                             f"{old.get('study')} or choose another --out")
        before = None if old.get("default_storage") else old.get("storage")
        if before != storage_shown:
            raise SweepError(f"--out {out}: its study is in {before or 'the folder (study.db)'}, not "
                             f"{storage_shown or 'the folder'}; " + (f"pass --storage {before}" if before else "drop --storage"))
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(f"--out {out} exists and is not a sweep folder; choose a new or empty folder")


def run_sweep(spec: SweepSpec, workers: int = 1, echo: Callable[[str], None] = print) -> dict:
    """Run the sweep to the end (or join it), then write its ledger; returns the ledger
    ({'rows', 'files', 'notes', 'study', 'storage'}). Ctrl-C writes the ledger so far, then re-raises."""
    from .report import write_ledger
    from .worker import work

    storage, study = start_sweep(spec)
    echo(f"sweep {spec.name}: {spec.trials} trials ({spec.mode}) of {spec.recipe_name} in {storage.shown} -> {spec.out}")
    try:
        if workers <= 1:
            work(spec, echo, storage, study)
        else:
            _spawn_workers(spec, workers, echo)
    finally:
        ledger = write_ledger(spec, study, storage.shown)
    return {**ledger, "study": spec.name, "storage": storage.shown}


def _spawn_workers(spec: SweepSpec, workers: int, echo: Callable[[str], None]) -> None:
    from .worker import SPEC_ENV

    env = {**os.environ, SPEC_ENV: json.dumps(spec.to_json())}
    # own sessions: a Ctrl-C reaches each worker once (forwarded below), so it re-queues its trial cleanly
    procs = [subprocess.Popen([sys.executable, "-m", "edgecv.sweep.worker", str(i)], env=env, start_new_session=True)
             for i in range(workers)]
    try:
        codes = [p.wait() for p in procs]
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    for i, code in enumerate(codes):
        if code != 0:
            echo(f"worker {i} exited with code {code}")
