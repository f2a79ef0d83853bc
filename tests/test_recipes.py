"""Every recipe in recipes/ (one per user journey) runs end to end at a reduced size.

A new recipe needs an entry in REDUCED: the overrides that shrink it (fewer images, one short epoch),
so its whole chain still runs in seconds. Recipes on the CIFAR-10 copy in ../shared skip without it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import edgecv
from tests.conftest import SHARED

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TINY_DATA = ["data.max_train=120", "data.max_val=60", "data.workers=0"]
SHORT = {"epochs": 1, "max_steps_per_epoch": 2}
FAST_BENCH = ["stages.benchmark.warmup=1", "stages.benchmark.min_runs=3", "stages.benchmark.min_time_s=0",
              "stages.benchmark.batch=[1]"]


def _short(stage: str) -> list[str]:
    return [f"stages.{stage}.{k}={v}" for k, v in SHORT.items()]


REDUCED = {
    "quickstart.yaml": [*TINY_DATA, "stages.0.epochs=1", "stages.1.epochs=1", "stages.prune.finetune.epochs=1",
                        "stages.prune.final_epochs=0", "stages.4.calib_size=32", "stages.5.calib_size=32", *FAST_BENCH],
    "cifar10_distill.yaml": [*TINY_DATA, *_short("distill")],
    # two epochs over one batch: the second takes the ensemble's logits from the teacher cache
    "cifar10_ensemble.yaml": [*TINY_DATA, "stages.distill.epochs=2", "stages.distill.max_steps_per_epoch=2",
                              "stages.distill.teacher_cache={views: 1}", "stages.evaluate.latency=false", *FAST_BENCH],
    "cifar10_prune.yaml": [*TINY_DATA, "stages.prune.steps=1", "stages.prune.final_epochs=0",
                           "stages.prune.finetune={epochs: 1, max_steps_per_epoch: 1, amp: 'off', channels_last: false}",
                           "stages.prune.measure_latency=false", *FAST_BENCH],
    "cifar10_quantize.yaml": [*TINY_DATA, "stages.quantize.calib_size=32", "stages.quantize.budget=100",
                              "stages.quantize.qat.mode=never", "stages.export.calib_size=32", *FAST_BENCH],
    "imagefolder_transfer.yaml": ["data.max_train=40", "data.max_val=20", "data.workers=0", "data.image_size=64",
                                  "student.pretrained=false", *_short("train"), *FAST_BENCH],
}
NEEDS_SHARED = {"cifar10_distill.yaml", "cifar10_ensemble.yaml", "cifar10_prune.yaml", "cifar10_quantize.yaml"}


def test_every_recipe_has_a_reduced_run():
    assert sorted(p.name for p in RECIPES.glob("*.yaml")) == sorted(REDUCED)


@pytest.mark.parametrize("name", sorted(REDUCED))
def test_recipe_runs_at_reduced_size(name, tmp_path, request):
    if name in NEEDS_SHARED and not (SHARED / "cifar10").is_dir():
        pytest.skip(f"offline data not found: {SHARED / 'cifar10'}")
    overrides = list(REDUCED[name])
    if name == "imagefolder_transfer.yaml":  # "your own images": a real two-class folder
        overrides.append(f"data.root={request.getfixturevalue('tiny_folder')}")
    recipe = edgecv.load_recipe(RECIPES / name, overrides)
    text = (RECIPES / name).read_text()
    assert text.startswith("#") and "edgecv run recipes/" + name in text  # documented: what it is, how to run it
    ctx = edgecv.run(recipe, out_dir=tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [s["type"] for s in doc["stages"]] == [s.type for s in recipe.stages]
    assert doc["rows"], "every journey ends in measured rows"
    if any(s.type in ("export", "quantize") for s in recipe.stages):
        ok = [a for a in ctx.artifacts if a["status"] == "ok"]
        assert ok and all(Path(a["path"]).is_file() for a in ok)
