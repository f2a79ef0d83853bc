"""Emulated targets for the CLI and the benchmark stage: set them up, and benchmark an artifact in them.

    setup_targets(["arm64"])                  # once per architecture; cached under ~/.edgecv/emulate
    rows = emulated_rows(artifact, ["arm64-a53", "arm64-i8mm"],
                         EmulatedEval(data=evalset, reference_model=model, host_runner=predictor.runner), images=200)
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def parse_targets(text: str | Sequence[str]) -> list[str]:
    """Class names from 'arm64,arm64-a53' or a list; unknown names raise one line listing the classes."""
    from ..bench.emulate import target

    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ValueError("--emulate needs a class, e.g. --emulate arm64")
    return list(dict.fromkeys(target(n).name for n in names))  # validated; arm64 -> arm64-a76


def setup_targets(names: Sequence[str], log: Callable[[str], None] = _stderr) -> list[dict]:
    """Set up (or find set up) the architecture of every class in `names`; their manifests."""
    from ..bench.emulate import prepare, target

    arches = list(dict.fromkeys(target(n).arch for n in names))
    return [{"folder": str(env.folder), **env.manifest} for env in (prepare(a, log=log) for a in arches)]


def emulation_status() -> list[dict]:
    """Every class, with whether its architecture is set up here (and where, how big)."""
    from ..bench.emulate import TARGETS, find
    from ..bench.emulate.provision import emulate_dir

    out = []
    for t in TARGETS.values():
        env = find(t.arch)
        out.append({"target": t.name, "arch": t.arch, "qemu_cpu": t.qemu_cpu, "summary": t.summary,
                    "ready": env is not None, "folder": str(emulate_dir(t.arch)),
                    **({"qemu": env.manifest.get("qemu"), "size_mb": env.manifest.get("size_mb"),
                        "wheels": env.manifest.get("wheels")} if env else {})})
    return out


def emulated_rows(artifact, names: Sequence[str], how, images: int | None = None,
                  log: Callable[[str], None] = _stderr) -> list[dict]:
    """One row per class in `names`, judged as `how` (an edgecv.bench.emulate.EmulatedEval) says; failures raise
    one line (see edgecv.bench.emulate.emulated_rows)."""
    from dataclasses import replace

    from ..bench.emulate import emulated_rows as rows

    return rows(artifact, names, replace(how, strict=True), images=images, log=log)
