"""Sweeps over any recipe key, on Optuna: grid, random and TPE search, from one machine to many.

    edgecv sweep RECIPE.yaml --grid stages.distill.losses.0.temperature=2,4,8 [--objective top1]
    edgecv sweep RECIPE.yaml --tpe 12 --space stages.prune.macs_ratio=0.3:0.8 --objective top1,latency

Every trial is an ordinary edgecv run of the recipe with `--set` overrides, in its own folder under
the sweep folder. The trials live in an Optuna study (a SQLite file in the sweep folder by default; a
PostgreSQL or Redis URL lets workers on several machines share it); workers claim them one at a
time from Optuna's trial queue, so no trial runs twice, and a killed trial is retried in its folder
(continuing its run). Optuna is imported only when a sweep runs (`pip install 'edgecv[sweep]'`).

Modules, one job each: `space` (parsing and validating `key.path=...` against the recipe schema),
`objective` (a trial's metrics from its run's ledger rows), `storage` (URL -> Optuna storage, a
connectivity check, a lock), `study` (the sweep's settings, the study, its plan of trials, stale-trial
recovery), `trial` (one trial as an edgecv run), `worker` (the claim -> run -> tell loop), `report`
(the sweep ledger, Optuna's plots, the table) and `driver` (all of it for one `edgecv sweep`).
"""
from __future__ import annotations

from ..utils.lazy import lazy_getattr
from .errors import SweepError

_LAZY = {
    "SweepSpec": ("edgecv.sweep.study", "SweepSpec"),
    "run_sweep": ("edgecv.sweep.driver", "run_sweep"),
    "prepare_sweep": ("edgecv.sweep.driver", "prepare_sweep"),
    "SweepOptions": ("edgecv.sweep.driver", "SweepOptions"),
    "parse_grid": ("edgecv.sweep.space", "parse_grid"),
    "parse_space": ("edgecv.sweep.space", "parse_space"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["SweepError", *_LAZY]
