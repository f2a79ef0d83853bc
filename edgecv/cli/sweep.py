"""`edgecv sweep RECIPE.yaml`: grid, random or TPE search over any recipe key, each trial an `edgecv run`."""
from __future__ import annotations


def register(sub) -> None:
    from .args import positive_int

    p = sub.add_parser(
        "sweep",
        help="sweep recipe keys (grid, random, TPE on Optuna); every trial is an edgecv run",
        description="Run RECIPE once per trial with --set overrides chosen by a grid, random search or TPE "
        "(Optuna), each run in its own folder under --out; finished trials are kept and a rerun of the same "
        "command resumes the sweep (an interrupted trial resumes its run). Workers on other machines join "
        "with the same command and a shared --storage. Writes results.json, report.md and Optuna's plots.",
    )
    p.add_argument("recipe", help="path to a YAML recipe, e.g. recipes/quickstart.yaml")
    search = p.add_mutually_exclusive_group(required=True)
    search.add_argument("--grid", action="append", default=[], metavar="KEY.PATH=V1,V2",
                        help="grid values of one key (repeatable: the grid is every combination), "
                        "e.g. --grid stages.distill.losses.0.temperature=2,4,8")
    search.add_argument("--random", type=positive_int, metavar="N", help="N trials drawn at random from --space")
    search.add_argument("--tpe", type=positive_int, metavar="N", help="N trials chosen by TPE from --space")
    p.add_argument("--space", action="append", default=[], metavar="KEY.PATH=LOW:HIGH[:log]",
                   help="a range (integers where the recipe takes only whole numbers, else floats; :log for a log "
                   "scale) or a choice KEY.PATH=V1,V2, for --random/--tpe (repeatable)")
    p.add_argument("--objective", default="top1",
                   help="top1 (maximise), latency (minimise p50) or score (top-1 within --latency-bound); "
                   "several, comma-separated (e.g. top1,latency), make a multi-objective study (default top1)")
    p.add_argument("--latency-bound", type=float, metavar="MS", help="the p50 latency bound of --objective score, in ms")
    p.add_argument("--metric-row", metavar="KEY=VALUE,...",
                   help="which ledger row of each run is scored: among the rows matching it, the best by the objective "
                   "(default role=student; e.g. role=pruned,backend=onnxruntime,precision=int8)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="a fixed override for every trial (repeatable), as in edgecv run")
    p.add_argument("--storage", metavar="URL", help="Optuna storage: default a SQLite file in --out; "
                   "postgresql://user:pass@host:5432/db or redis://host:6379/0 to share the study between machines")
    p.add_argument("--study", metavar="NAME", help="study name (default: from the recipe and the sweep settings, so "
                   "the same command on another machine joins the same study)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N", help="worker processes on this machine (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random and TPE samplers (default 0)")
    p.add_argument("--out", "-o", metavar="DIR", help="the sweep folder (default ~/.edgecv/runs/<name>-sweep-<time>, "
                   "or $EDGECV_RUNS); rerun with the same --out to resume")
    p.set_defaults(func=_sweep)


def _sweep(args) -> int:
    from edgecv.cli import Interrupted
    from edgecv.sweep import SweepOptions, prepare_sweep, run_sweep
    from edgecv.sweep.report import markdown, rich
    from edgecv.utils.console import get_console

    spec = prepare_sweep(args.recipe, SweepOptions(
        grid=args.grid, space=args.space, random=args.random, tpe=args.tpe, objective=args.objective,
        latency_bound=args.latency_bound, metric_row=args.metric_row, seed=args.seed, storage=args.storage,
        study=args.study, out=args.out, sets=args.overrides))
    try:
        ledger = run_sweep(spec, workers=args.workers, echo=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        raise Interrupted(f"finished trials are kept; resume with: {resume_command(args, spec.out)}") from None
    rows = ledger["rows"]
    con = get_console()
    if con.is_terminal:
        con.print(rich(spec, rows, f"edgecv sweep {spec.recipe_name}: {spec.mode}, best first"))
    else:  # logs and pipes get the whole table as markdown
        print(markdown(spec, rows), end="")
    for note in ledger["notes"]:
        print(f"note: {note}")
    print(f"ledger: {spec.out}/report.md")
    if not any(r["status"] == "complete" for r in rows):
        print("no trial finished", flush=True)
        return 1
    return 0


def resume_command(args, out) -> str:
    """The command that continues this sweep (same search, same folder and storage)."""
    import shlex

    from edgecv.sweep.storage import hide_password

    q = shlex.quote
    parts = ["edgecv sweep", q(args.recipe)]
    parts += [f"--grid {q(g)}" for g in args.grid]
    parts += [f"--random {args.random}"] if args.random else []
    parts += [f"--tpe {args.tpe}"] if args.tpe else []
    parts += [f"--space {q(s)}" for s in args.space]
    parts += [f"--set {q(s)}" for s in args.overrides]
    for flag, value in (("--objective", args.objective if args.objective != "top1" else None),
                        ("--latency-bound", args.latency_bound), ("--metric-row", args.metric_row),
                        ("--seed", args.seed or None), ("--study", args.study),
                        ("--storage", hide_password(args.storage) if args.storage else None),
                        ("--workers", args.workers if args.workers > 1 else None)):
        if value is not None:
            parts.append(f"{flag} {q(str(value))}")
    parts.append(f"--out {q(str(out))}")
    return " ".join(parts)
