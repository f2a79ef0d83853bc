"""The ledger row of an artifact run in an emulated target: the harness's accuracy path with an
EmulatedRunner, then the same images through the host's own run of the file for comparison.

    row = benchmark_emulated(artifact, "arm64", EmulatedEval(data=evalset, reference_model=model, host_runner=runner))
    row["top1"], row["agreement"]          # on the emulated target, judged by the usual thresholds
    row["host_top1"], row["host_agreement"] # the host's run of the same file on the same images
    row["same_as_host"], row["differ_from_host"]  # % of images with the host's top-1; how many differ
    row["host_max_abs_diff"]                # the largest logit difference from the host's run
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ...eval.logits import agreement, parity, run_all, score_runner
from ...targets import TARGETS as CPU_TARGETS
from ...utils.errors import first_line
from ..accuracy import random_images
from ..harness import Thresholds, benchmark_artifact, input_chw
from .provision import EmulationSetupError
from .runner import EmulatedRunner, EmulationError
from .targets import target as find_target


@dataclass(frozen=True)
class EmulatedEval:
    """How an artifact is judged in an emulated CPU class: on what, against what, and named how."""
    data: Any = None  # an EvalSet of labelled images; None: parity on random images
    reference_model: Any = None  # the PyTorch source, for agreement
    host_runner: Callable | None = None  # this machine's runner of the same file, compared image by image
    thresholds: Thresholds = Thresholds()
    threads: int | None = None
    name: str | None = None  # the row's name
    extra: Mapping[str, Any] | None = None  # more fields for the row (e.g. its role in a run)
    strict: bool = False  # raise a set-up or run failure instead of writing it into the row


def benchmark_emulated(artifact, target: str, how: EmulatedEval = EmulatedEval(), env=None) -> dict:
    """One row: `artifact` evaluated in the emulated `target` class on `how.data` (else parity on random
    images), compared with `how.host_runner` on the same images. No latency."""
    t = find_target(target)
    data, strict = how.data, how.strict
    meta = artifact.metadata
    fixed = meta.input_shape[0] if isinstance(meta.input_shape[0], int) and meta.input_shape[0] > 0 else None
    total = len(data) + (fixed or 1) if data is not None else None  # the harness's probe batch, then every image
    with _progress(f"{artifact.path.name} on emulated {t.name}", total) as advance:
        try:
            if isinstance(env, Exception):  # the target could not be set up (emulated_rows tried once for all)
                raise env
            emu = EmulatedRunner(artifact, t, how.threads, env=env, on_images=advance)
        except Exception as e:  # set-up, emulator, a file the host backend cannot read: the row says which
            if strict:
                raise
            emu = _Unavailable(f"emulated {t.name}: {first_line(e)}")  # an export_failed row that says why
        with emu:
            row = benchmark_artifact(artifact, data=data, batches=[fixed or 1], threads=how.threads,
                                     reference_model=how.reference_model, timing=None, thresholds=how.thresholds,
                                     name=how.name, runner=emu, strict=strict, extra={**(how.extra or {}), "emulated": t.name},
                                     host=CPU_TARGETS.get(t.name))[0]  # the class's CPU: its features, its kernels' limits
            row["device"] = emu.info.get("device")
            row["emulated_cpu"] = emu.info.get("cpu")
            if how.host_runner is not None and row["status"] in ("ok", "inaccurate"):
                row.update(compare_with_host(emu, how.host_runner, data, how.reference_model, fixed,
                                             input_chw(meta.input_shape, artifact.path)))
    if row.get("differ_from_host"):
        note = (f"{row['differ_from_host']} of {row['images']} images' top-1 differ from the host's run"
                + (f" (host top-1 {row['host_top1']}%)" if row.get("host_top1") is not None else ""))
        row["reason"] = f"{row['reason']}; {note}" if row.get("reason") else note
    return row


def emulated_rows(artifact, names: Sequence[str], how: EmulatedEval = EmulatedEval(strict=True),
                  images: int | None = None, seed: int = 0, log: Callable[[str], None] = print) -> list[dict]:
    """One row per class in `names`: `artifact` evaluated in it on `how.data` (a seeded, stratified subset of
    about `images` images when given), compared with `how.host_runner` (loaded here when None) on the same
    images. The first use of an architecture sets it up; without `how.strict`, a set-up or run failure becomes
    the row's `export_failed` reason instead of an exception."""
    from ...backends import BACKENDS
    from .provision import prepare

    strict = how.strict
    subset = how.data.subset(images, seed) if how.data is not None else None
    host_runner = how.host_runner
    if host_runner is None:
        try:
            host_runner = BACKENDS.get(artifact.backend).load(artifact, how.threads)
        except Exception:
            if strict:
                raise
            host_runner = None  # the host cannot run it either: each row says why, as the host's own row does
    envs: dict = {}
    for arch in dict.fromkeys(find_target(n).arch for n in names):
        try:
            envs[arch] = prepare(arch, log=log)
        except EmulationSetupError as e:
            if strict:
                raise
            envs[arch] = e
    rows = []
    for n in names:
        log(f"evaluating {artifact.path.name} on emulated {find_target(n).name}"
            + (f" ({len(subset)} images; no latency: emulated time is not the target's)" if subset is not None else ""))
        rows.append(benchmark_emulated(artifact, n, replace(how, data=subset, host_runner=host_runner),
                                       env=envs[find_target(n).arch]))
    return rows


def compare_with_host(emu: Callable, host: Callable, data, reference_model, fixed: int | None, chw) -> dict:
    """The host's top-1 and agreement with the reference on the same images, and how often its top-1 equals
    the emulated one. The emulated runner remembers its batches, so this runs nothing emulated again."""
    if data is not None:
        scores, host_logits = score_runner(host, data, fixed)
        emu_logits = run_all(emu, (x for x, _ in data.batches()), fixed)
        out = {"host_top1": scores["top1"], "images": scores["images"]}
        if reference_model is not None:
            out["host_agreement"] = parity(host_logits, data.reference_logits(reference_model))["agreement"]
    else:  # the random images parity was measured on
        x = random_images(chw)
        host_logits, emu_logits = run_all(host, [x], fixed), run_all(emu, [x], fixed)
        out = {"images": len(x)}
    same = host_logits.argmax(1) == emu_logits.argmax(1)
    out.update(same_as_host=agreement(emu_logits.argmax(1), host_logits.argmax(1)), differ_from_host=int((~same).sum()),
               host_max_abs_diff=float(np.abs(emu_logits - host_logits).max()))
    return out


class _Unavailable:
    """Stands in for a runner that could not start: the harness turns its error into an export_failed row."""

    info: dict = {}

    def __init__(self, reason: str):
        self.reason = reason

    def __call__(self, x):
        raise EmulationError(self.reason)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class _progress:
    """A bar of images done on a terminal (emulated runs are slow); nothing elsewhere."""

    def __init__(self, label: str, total: int | None):
        from ...utils.console import get_console

        self.label, self.total, self.console = label, total, get_console()
        self.bar = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.console.is_terminal or not self.total:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=self.console, transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.update(task, advance=n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
