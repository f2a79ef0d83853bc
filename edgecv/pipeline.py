"""Runs a recipe's stages in order, records what each did, and resumes finished stages.

After each stage the models and a manifest are written atomically into the run folder, so a killed
run restarts at the first unfinished stage (and a training stage resumes from its last epoch).
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from rich.markup import escape

from .recipe import (PATH_KEYS, Recipe, RecipeError, check_recipe_resources, recipe_differences, recipe_fingerprint,
                     recipe_paths)
from .stages.context import RunContext
from .utils.io import write_json
from .utils.paths import check_output_folder

MANIFEST = "manifest.json"
INPUTS = "inputs.json"  # the fingerprint of every data folder and file the recipe names, taken at the start


def default_out_dir(name: str) -> Path:
    """Runs go under ~/.edgecv/runs (or $EDGECV_RUNS), never into the current folder unless asked."""
    import os

    base = Path(os.environ.get("EDGECV_RUNS", Path.home() / ".edgecv" / "runs"))
    return base / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def latest_run(name: str) -> Path | None:
    import glob
    import os

    base = Path(os.environ.get("EDGECV_RUNS", Path.home() / ".edgecv" / "runs"))
    runs = sorted(base.glob(f"{glob.escape(name)}-*")) if base.is_dir() else []  # a name may hold * or [
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
            # an ensemble: its members' specs (each built the same way) and their weights
            **({"members": [m.model_dump() for m in spec.members], "weights": spec.weights} if spec.members else {}),
        )

    models = {}
    if recipe.teacher is not None:
        models["teacher"] = make(recipe.teacher)
    for i, spec in enumerate(recipe.teachers, start=1):
        models[f"teacher{i}"] = make(spec)
    models["student"] = make(recipe.student)
    return models


RESUME_IF_ANY = "if-any"  # `resume=` for callers that own the folder (a sweep's trial): continue a run if one is there


def run_recipe(recipe: Recipe, out_dir: str | Path | None = None, resume: bool | str = False, console=None) -> RunContext:
    """Run every stage of `recipe`; returns the context holding models, artifacts and results.
    `resume=True` continues the run in `out_dir` and refuses a folder that holds none (`--resume`);
    `resume=RESUME_IF_ANY` continues one if it is there, else starts in the folder as it is."""
    from .models import data_config
    from .plugins import load_plugins
    from .report import write_report
    from .stages import STAGES
    from .utils.console import get_console
    from .utils.seed import seed_everything

    load_plugins()  # what the stages rely on: quantize's ONNX builders, pruned model files
    console = console or get_console()
    problems = check_recipe_resources(recipe)  # unknown models, missing files: fail before anything runs
    if problems:
        raise RecipeError(recipe.source, problems)
    out = Path(out_dir) if out_dir else default_out_dir(recipe.name)
    check_output_folder(out, "output folder")
    manifest_path = out / MANIFEST
    done: list[dict] = []
    inputs = input_fingerprints(recipe)
    if resume:
        check_resume(out, recipe, inputs, console, require_run=resume is True)
    if resume and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        done = manifest.get("records", [])
    elif out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(f"output folder {out} is not empty; pass --resume to continue that run or choose another --out")
    existed, had_content = out.exists(), out.exists() and any(out.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    ctx = None
    try:
        seed_everything(recipe.seed)
        device = pick_device(recipe.device)
        ctx = RunContext(recipe, out, device, recipe.seed, resume=resume)

        # The student's data config sets the default size and normalisation, so data comes first.
        ctx.data_bundle = _build_data(recipe)
        ctx.models = build_models(recipe, ctx.data.num_classes)
        _warn_normalisation(ctx, console, data_config)

        if done:
            _restore(ctx, done, console)
        write_json(out / "recipe.json", recipe.raw)
        write_json(out / INPUTS, inputs)
        console.print(f"[bold]edgecv run[/] {escape(recipe.name)}: {len(recipe.stages)} stages -> {escape(str(out))}")
        for stage in recipe.stages:
            if stage.index < len(done):
                console.print(f"[dim]stage {stage.label}: done earlier, skipped[/]")
                continue
            stage_dir = out / "stages" / stage.label
            stage_dir.mkdir(parents=True, exist_ok=True)
            console.rule(f"stage {stage.index}: {stage.type}")
            t0 = time.perf_counter()
            seed_everything(recipe.seed + stage.index)
            ctx.stage_index = stage.index
            record = STAGES.get(stage.type).run(ctx, stage.config, stage_dir) or {}
            record = {"stage": stage.label, "type": stage.type, "seconds": round(time.perf_counter() - t0, 2), **record}
            ctx.records.append(record)
            _checkpoint(ctx, stage_dir)
        write_report(ctx, console)
    except BaseException:
        if not had_content and not (ctx is not None and ctx.records):
            _remove_unfinished(out, existed, console)
        raise
    return ctx


class ResumeMismatch(ValueError):
    """`--resume` on a run folder made by a different resolved recipe, or from data that changed."""


def input_fingerprints(recipe: Recipe) -> dict[str, dict]:
    """{'data.root': {'path': ..., 'classes': [...], 'files': n, 'bytes': n}, ...} for every path the
    recipe names that exists (data folders, calibration folders, checkpoints)."""
    from .data.fingerprint import folder_fingerprint

    return {key: {"path": path, **folder_fingerprint(path)} for key, path in recipe_paths(recipe.raw).items()
            if Path(path).exists()}


def check_resume(out: Path, recipe: Recipe, inputs: dict[str, dict], console, require_run: bool = True) -> None:
    """Refuse `--resume` on a folder that holds no run (with `require_run`), or that a different recipe or
    other data made."""
    if not ((out / MANIFEST).is_file() or (out / "recipe.json").is_file()):
        if not require_run:
            return
        why = "the folder does not exist" if not out.exists() else "no manifest.json or recipe.json in it"
        raise FileNotFoundError(f"--resume: {out} holds no run ({why}); start the run without --resume, or give the "
                                "--out of an earlier run")
    recorded_inputs = _read_json(out / INPUTS) or {}
    moved = check_resume_recipe(out, recipe, recorded_inputs, inputs)
    changed = []
    for key, now in inputs.items():
        before = recorded_inputs.get(key)
        if isinstance(before, dict) and before.get("path") == now["path"]:
            from .data.fingerprint import fingerprint_changes

            if diff := fingerprint_changes(before, now):
                changed.append(f"{key} {now['path']}: {', '.join(diff)}")
    if changed:
        raise ResumeMismatch(f"--resume: the data changed since {out} was started ({'; '.join(changed)}); resume it "
                             "with the data it started on, or choose a new --out")
    for line in moved:
        console.print(f"[yellow]note:[/] {escape(line)}")


def check_resume_recipe(out: Path, recipe: Recipe, recorded_inputs: dict | None = None,
                        inputs: dict | None = None) -> list[str]:
    """Refuse to resume `out` when its recorded recipe (the manifest's fingerprint, else recipe.json)
    differs from `recipe` after overrides: finished stages would be credited to the wrong recipe. A data
    path that differs only because the same data sits elsewhere now (same fingerprint) is allowed;
    returns a note per such path."""
    recorded = None
    if (out / MANIFEST).is_file():
        recorded = (_read_json(out / MANIFEST) or {}).get("recipe_fingerprint")
    if not isinstance(recorded, dict) and (out / "recipe.json").is_file():
        recorded = recipe_fingerprint(_read_json(out / "recipe.json") or {})
    if not isinstance(recorded, dict):
        return []  # nothing recorded: a folder that never got past its start
    now = recipe_fingerprint(recipe.raw)
    if recorded.get("sha256") == now["sha256"]:
        return []
    old_flat = recorded.get("flat") or {}
    diffs, moved = [], []
    for line in recipe_differences(old_flat, now["flat"]):
        key = line.split(":", 1)[0]
        verdict = _path_change(key, old_flat.get(key), now["flat"].get(key), recorded_inputs or {}, inputs or {})
        if verdict == "same":
            continue
        if verdict and verdict.startswith("moved"):
            moved.append(f"{key}: {verdict}")
            continue
        diffs.append(line + (f" ({verdict})" if verdict else ""))
    if not diffs:
        return moved
    shown = "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
    raise ResumeMismatch(f"--resume: {out} was made by a different recipe ({shown}); resume it with the recipe and "
                         "--set overrides it was started with, or choose a new --out")


def _path_change(key: str, old, new, recorded_inputs: dict, inputs: dict) -> str | None:
    """For a path key that differs: 'same' (a relative path recorded by an older edgecv that names the
    same place), 'moved ...' (the same fingerprint elsewhere), what changed in the data, or None."""
    import os

    from .data.fingerprint import fingerprint_changes

    if not (isinstance(old, str) and isinstance(new, str) and key.rsplit(".", 1)[-1] in PATH_KEYS):
        return None
    if not os.path.isabs(old) and os.path.abspath(old) == new:
        return "same"
    before, now = recorded_inputs.get(key), inputs.get(key)
    if not (isinstance(before, dict) and isinstance(now, dict)):
        return None
    diff = fingerprint_changes(before, now)
    if not diff:
        return f"moved from {old} to {new} (same classes, files and bytes)"
    return "; ".join(diff)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _remove_unfinished(out: Path, existed: bool, console) -> None:
    """After a failure before any stage finished, remove what this run created in `out` (all of it if
    the run made the folder; the contents if the user made it empty), unless a training stage left an
    epoch checkpoint that --resume can continue from."""
    import shutil

    if any(out.rglob("last.pt")):
        return
    try:
        if not existed:
            shutil.rmtree(out)
        else:
            for p in out.iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    except OSError as e:
        console.print(f"[yellow]note:[/] could not remove the unfinished run folder {escape(str(out))}: {escape(str(e))}")


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
        "recipe_fingerprint": recipe_fingerprint(ctx.recipe.raw),  # what --resume checks the recipe against
        "records": ctx.records,
        "artifacts": ctx.artifacts,
        "results": ctx.results,
    })


def locate_model_file(run_dir: Path, recorded: str | Path) -> Path:
    """A model file the manifest recorded, found again when the run was started from another folder
    (a relative path) or the run folder has moved since: re-rooted at the run's `stages/`."""
    path = Path(recorded)
    if not path.is_file() and "stages" in path.parts:
        path = Path(run_dir).joinpath(*path.parts[path.parts.index("stages"):])
    return path


def _restore(ctx: RunContext, done: list[dict], console) -> None:
    from .models import load_model_file

    last = done[-1]
    for role, path in last.get("model_files", {}).items():
        model, _ = load_model_file(locate_model_file(ctx.out_dir, path))
        ctx.models[role] = model
    manifest = json.loads((ctx.out_dir / MANIFEST).read_text())
    ctx.records = list(done)
    ctx.artifacts = manifest.get("artifacts", [])
    ctx.results = manifest.get("results", [])
    console.print(f"resuming {ctx.out_dir}: {len(done)} stage(s) already done")
