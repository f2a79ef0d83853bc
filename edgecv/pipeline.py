"""Runs a recipe's stages in order, records what each did, and resumes finished stages.

After each stage the models and a manifest are written atomically into the run folder, so a killed
run restarts at the first unfinished stage (and a training stage resumes from its last epoch).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .recipe import Recipe
from .utils.io import write_json

MANIFEST = "manifest.json"


@dataclass
class RunContext:
    recipe: Recipe
    out_dir: Path
    device: Any  # torch.device
    seed: int = 0
    models: dict[str, Any] = field(default_factory=dict)  # role -> nn.Module: teacher, teacher1.., student
    artifacts: list[dict] = field(default_factory=list)  # {"path", "backend", "model", "precision", ...}
    results: list[dict] = field(default_factory=list)  # ledger rows (report.md / results.json)
    records: list[dict] = field(default_factory=list)  # one per finished stage
    resume: bool = False
    _data: Any = None

    @property
    def data(self):
        """The run's DataBundle (train/val datasets, classes, size, mean/std)."""
        if self._data is None:
            self._data = _build_data(self.recipe)
        return self._data

    def model(self, role: str):
        if role not in self.models:
            raise KeyError(f"no model with role '{role}' in this run (have: {', '.join(self.models)})")
        return self.models[role]

    def teacher_roles(self) -> list[str]:
        return [r for r in self.models if r.startswith("teacher")]

    def add_result(self, row: dict) -> None:
        """Add or replace a ledger row (keyed by name, backend and precision)."""
        def key(r: dict) -> tuple:
            return (r.get("name"), r.get("role"), r.get("backend", "torch"), r.get("precision", "fp32"), r.get("batch", 1))

        self.results = [r for r in self.results if key(r) != key(row)]
        self.results.append(row)


def default_out_dir(name: str) -> Path:
    """Runs go under ~/.edgecv/runs (or $EDGECV_RUNS), never into the current folder unless asked."""
    import os

    base = Path(os.environ.get("EDGECV_RUNS", Path.home() / ".edgecv" / "runs"))
    return base / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def latest_run(name: str) -> Path | None:
    import os

    base = Path(os.environ.get("EDGECV_RUNS", Path.home() / ".edgecv" / "runs"))
    runs = sorted(base.glob(f"{name}-*")) if base.is_dir() else []
    return runs[-1] if runs else None


def pick_device(choice: str):
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("recipe asks for device: cuda but no CUDA GPU is visible")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def _build_data(recipe: Recipe):
    """Data for the run, shaped by the student's timm data config unless the recipe says otherwise."""
    import torch

    from .data import build_data
    from .models import create_model, data_config

    spec = recipe.student
    # Build the student on the meta device: only its config is needed, not its weights.
    with torch.device("meta"):
        probe = create_model(spec.name, small_input=spec.small_input, **spec.kwargs)
    return build_data(recipe.data, data_config(probe), recipe.seed)


def build_models(recipe: Recipe, num_classes: int) -> dict:
    from .models import create_model

    def make(spec):
        return create_model(
            spec.name,
            num_classes=spec.num_classes or num_classes,
            pretrained=spec.pretrained,
            checkpoint=spec.checkpoint,
            small_input=spec.small_input,
            **spec.kwargs,
        )

    models = {}
    if recipe.teacher is not None:
        models["teacher"] = make(recipe.teacher)
    for i, spec in enumerate(recipe.teachers, start=1):
        models[f"teacher{i}"] = make(spec)
    models["student"] = make(recipe.student)
    return models


def run_recipe(recipe: Recipe, out_dir: str | Path | None = None, resume: bool = False, console=None) -> RunContext:
    """Run every stage of `recipe`; returns the context holding models, artifacts and results."""
    from .models import data_config
    from .report import write_report
    from .stages import STAGES
    from .utils.console import get_console
    from .utils.seed import seed_everything

    console = console or get_console()
    out = Path(out_dir) if out_dir else default_out_dir(recipe.name)
    manifest_path = out / MANIFEST
    done: list[dict] = []
    if resume and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        done = manifest.get("records", [])
    elif out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(f"output folder {out} is not empty; pass --resume to continue that run or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(recipe.seed)
    device = pick_device(recipe.device)
    ctx = RunContext(recipe, out, device, recipe.seed, resume=resume)

    # The student's data config sets the default size and normalisation, so data comes first.
    ctx._data = _build_data(recipe)
    ctx.models = build_models(recipe, ctx.data.num_classes)
    _warn_normalisation(ctx, console, data_config)

    if done:
        _restore(ctx, done, console)
    write_json(out / "recipe.json", recipe.raw)
    console.print(f"[bold]edgecv run[/] {recipe.name}: {len(recipe.stages)} stages -> {out}")
    for stage in recipe.stages:
        if stage.index < len(done):
            console.print(f"[dim]stage {stage.label}: done earlier, skipped[/]")
            continue
        stage_dir = out / "stages" / stage.label
        stage_dir.mkdir(parents=True, exist_ok=True)
        console.rule(f"stage {stage.index}: {stage.type}")
        t0 = time.perf_counter()
        seed_everything(recipe.seed + stage.index)
        record = STAGES.get(stage.type).run(ctx, stage.config, stage_dir) or {}
        record = {"stage": stage.label, "type": stage.type, "seconds": round(time.perf_counter() - t0, 2), **record}
        ctx.records.append(record)
        _checkpoint(ctx, stage_dir)
    write_report(ctx, console)
    return ctx


def _warn_normalisation(ctx: RunContext, console, data_config) -> None:
    for role in ctx.teacher_roles():
        cfg = data_config(ctx.models[role])
        if tuple(cfg["mean"]) != tuple(ctx.data.mean) or tuple(cfg["std"]) != tuple(ctx.data.std):
            console.print(f"[yellow]note:[/] {role} expects mean/std {cfg['mean']}/{cfg['std']}; its inputs are re-normalised from the run's {ctx.data.mean}/{ctx.data.std}")


def _checkpoint(ctx: RunContext, stage_dir: Path) -> None:
    from .models import save_model

    d = ctx.data
    extra = {"class_names": d.class_names,
             "data_config": {"input_size": [3, d.image_size, d.image_size], "mean": list(d.mean), "std": list(d.std)}}
    model_files = {}
    for role, model in ctx.models.items():
        model_files[role] = str(save_model(model, stage_dir / "models" / f"{role}.pt", extra))
    ctx.records[-1]["model_files"] = model_files
    write_json(ctx.out_dir / MANIFEST, {
        "recipe": ctx.recipe.source,
        "records": ctx.records,
        "artifacts": ctx.artifacts,
        "results": ctx.results,
    })


def _restore(ctx: RunContext, done: list[dict], console) -> None:
    from .models import load_model

    last = done[-1]
    for role, path in last.get("model_files", {}).items():
        model, _ = load_model(path)
        ctx.models[role] = model
    manifest = json.loads((ctx.out_dir / MANIFEST).read_text())
    ctx.records = list(done)
    ctx.artifacts = manifest.get("artifacts", [])
    ctx.results = manifest.get("results", [])
    console.print(f"resuming {ctx.out_dir}: {len(done)} stage(s) already done")
