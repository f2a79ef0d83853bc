"""A sweep worker: claim the next queued trial, run it, tell the study; until the queue is empty.

`edgecv sweep --workers N` starts N of these as processes (`python -m edgecv.sweep.worker INDEX`, the
sweep's settings in $EDGECV_SWEEP_SPEC); with one worker the `edgecv sweep` process is the worker.
"""
from __future__ import annotations

from typing import Callable

from .report import short_names
from .study import SweepSpec, claim, open_study
from .trial import Outcome, run_trial

SPEC_ENV = "EDGECV_SWEEP_SPEC"


def work(spec: SweepSpec, echo: Callable[[str], None] = print, storage=None, study=None) -> list[Outcome]:
    """Run queued trials of the sweep's study until none is left; returns what this worker ran."""
    if storage is None:
        from .storage import open_storage

        storage = open_storage(spec.storage_url)
    if study is None:
        study = open_study(spec, storage, create=False)
    done: list[Outcome] = []
    while True:
        trial_id = claim(spec, study, storage)
        if trial_id is None:
            return done
        outcome = run_trial(spec, study, storage, trial_id)
        echo(progress_line(spec, outcome))
        done.append(outcome)


def progress_line(spec: SweepSpec, o: Outcome) -> str:
    names = short_names([d.key for d in spec.dims])
    values = " ".join(f"{names[k]}={_short(v)}" for k, v in o.params.items())
    attempt = f" (attempt {o.attempt})" if o.attempt > 1 else ""
    if o.state == "complete":
        m = o.metrics
        got = ", ".join(x for x in (f"top-1 {m['top1']:.2f} %" if "top1" in m else "",
                                    f"p50 {m['latency_ms_p50']:.3f} ms" if "latency_ms_p50" in m else "",
                                    f"score {m['score']:.2f}" if "score" in m else "") if x)
        return f"trial {o.slot}{attempt} done in {o.seconds:.1f} s: {values} -> {got} [{o.row}]"
    return f"trial {o.slot}{attempt} failed after {o.seconds:.1f} s: {values} -> {o.error} (log: {o.folder}/sweep-trial.log)"


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    import json
    import os
    import signal
    import sys

    from .errors import SweepError

    argv = sys.argv[1:] if argv is None else argv
    index = int(argv[0]) if argv else 0
    spec = SweepSpec.from_json(json.loads(os.environ[SPEC_ENV]))

    def stop(signum, frame):  # `kill` is a Ctrl-C here: the running trial goes back to the queue
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        work(spec, echo=lambda line: print(f"[worker {index}] {line}", flush=True))
    except KeyboardInterrupt:
        return 130
    except SweepError as e:
        print(f"[worker {index}] error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
