"""Every registered stage keeps the stage contract: a StageConfig that refuses unknown keys (naming
their path), a one-line summary, its workflow spec's keys written flat, and a tiny run that works.
A new stage is tested the moment it is registered (and needs an entry in RUNS below)."""
from __future__ import annotations

import copy

import pytest

import edgecv
from edgecv.recipe import RecipeError, validate_recipe
from edgecv.stages import STAGES, StageConfig

TINY_TRAIN = {"epochs": 1, "max_steps_per_epoch": 2}
EXPORT = {"type": "export", "to": ["onnx"]}
# the smallest run of each stage (stages that need artifacts run after an export)
RUNS = {
    "train": [{"type": "train", "model": "teacher", **TINY_TRAIN}],
    "distill": [{"type": "distill", **TINY_TRAIN}],
    "evaluate": [{"type": "evaluate", "threads": 1}],
    "export": [EXPORT],
    "benchmark": [EXPORT, {"type": "benchmark", "batch": [1], "threads": 1, "warmup": 1, "min_runs": 2, "min_time_s": 0}],
    "prune": [{"type": "prune", "macs_ratio": 0.7, "measure_latency": False, "bn_recalibration_batches": 1,
               "finetune": {"epochs": 1, "max_steps_per_epoch": 1}}],
    "quantize": [EXPORT, {"type": "quantize", "precision": ["int8"], "calib_size": 16, "calib_batch": 8, "threads": 1,
                          "qat": {"mode": "never"}}],
}
# keys a stage cannot validate without (e.g. prune needs exactly one target)
REQUIRED = {"prune": {"macs_ratio": 0.5}}


def _recipe(stages: list[dict], **data) -> dict:
    return {
        "name": "t", "device": "cpu",
        "data": {"source": "digits", "image_size": 16, "batch_size": 32, "workers": 0, **data},
        "teacher": {"name": "cifar_resnet20"}, "student": {"name": "cifar_resnet20"},
        "stages": copy.deepcopy(stages),
    }


def _stage(name: str, **keys) -> dict:
    return {"type": name, **REQUIRED.get(name, {}), **keys}


@pytest.mark.parametrize("name", STAGES.names())
def test_config_is_strict_and_summary_is_one_line(name):
    stage = STAGES.get(name)
    assert stage.name == name
    assert issubclass(stage.config, StageConfig) and stage.config.model_config.get("extra") == "forbid"
    assert stage.summary.strip() and "\n" not in stage.summary, f"stage {name}: its run function needs a one-line docstring"
    assert validate_recipe(_recipe([_stage(name)])).stages[0].type == name  # its defaults (plus REQUIRED) validate

    with pytest.raises(RecipeError) as err:
        validate_recipe(_recipe([{"type": "train", "epochs": 1}, _stage(name, not_a_key=1)]))
    assert any(p.startswith("stages.1.not_a_key: unknown key") for p in err.value.problems), err.value.problems
    assert "stages.1.not_a_key" in str(err.value)


@pytest.mark.parametrize("name", STAGES.names())
def test_spec_keys_are_accepted_flat(name):
    cfg_cls = STAGES.get(name).config
    if cfg_cls.spec_field is None:
        assert cfg_cls.spec_class() is None and set(cfg_cls.flat_fields()) == set(cfg_cls.model_fields)
        return
    spec_cls = cfg_cls.spec_class()
    own = set(cfg_cls.model_fields) - {cfg_cls.spec_field}
    spec_keys = [f for f in spec_cls.model_fields if f not in own]
    assert spec_keys and cfg_cls.spec_field not in cfg_cls.flat_fields()
    assert set(cfg_cls.flat_fields()) == own | set(spec_keys)

    # every spec key written flat (at its default) lands in the spec, not beside it
    for key in spec_keys:
        if key in REQUIRED.get(name, {}) or spec_cls.model_fields[key].is_required():
            continue
        default = spec_cls.model_fields[key].get_default(call_default_factory=True)
        cfg = cfg_cls.model_validate({**REQUIRED.get(name, {}), key: default})
        spec = getattr(cfg, cfg_cls.spec_field)
        assert key in spec.model_fields_set and getattr(spec, key) == default, (name, key)

    # and a changed value reaches the spec through a recipe
    key, default = next((k, spec_cls.model_fields[k].default) for k in spec_keys
                        if type(spec_cls.model_fields[k].default) is int and k not in REQUIRED.get(name, {}))
    cfg = validate_recipe(_recipe([_stage(name, **{key: default + 1})])).stages[0].config
    assert getattr(getattr(cfg, cfg_cls.spec_field), key) == default + 1


@pytest.mark.parametrize("name", STAGES.names())
def test_stage_runs_on_a_tiny_recipe(name, tmp_path):
    assert name in RUNS, f"add the smallest run of the new stage '{name}' to RUNS in {__file__}"
    stages = RUNS[name]
    ctx = edgecv.run(validate_recipe(_recipe(stages, max_train=40, max_val=20)), out_dir=tmp_path / "run")
    assert [r["type"] for r in ctx.records] == [s["type"] for s in stages]
    record = ctx.records[-1]
    assert record["type"] == name and record["seconds"] >= 0
    assert (tmp_path / "run" / "manifest.json").is_file() and (tmp_path / "run" / "report.md").is_file()
