from pathlib import Path

import pytest
import yaml

from edgecv.recipe import RecipeError, apply_overrides, load_recipe, validate_recipe

ROOT = Path(__file__).resolve().parents[1]
BASE = {"data": {"source": "digits"}, "student": {"name": "mobilenetv3_small_050"}, "stages": [{"type": "evaluate"}]}


def _raw(**over):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw.update(over)
    return raw


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(path):
    from edgecv.recipe import check_recipe_resources

    recipe = load_recipe(path)
    assert recipe.stages and recipe.name and path.read_text().startswith("#")  # documented at the top
    # what `run` would refuse: local data and checkpoints (../shared) may be absent, model names may not
    assert not [p for p in check_recipe_resources(recipe) if ".name:" in p or ".backend:" in p]


def test_misspelled_key_names_path_and_suggests():
    raw = _raw(data={"source": "digits", "bach_size": 32})
    with pytest.raises(RecipeError) as e:
        validate_recipe(raw)
    assert "data.bach_size: unknown key (did you mean 'batch_size'?)" in str(e.value)


def test_misspelled_stage_key_and_type():
    raw = _raw(stages=[{"type": "distil"}, {"type": "train", "epoks": 3}])
    with pytest.raises(RecipeError) as e:
        validate_recipe(raw)
    msg = str(e.value)
    assert "stages.0.type: unknown stage 'distil' (did you mean 'distill'?)" in msg
    assert "stages.1.epoks: unknown key (did you mean 'epochs'?)" in msg


def test_types_are_checked():
    with pytest.raises(RecipeError, match=r"data.batch_size: Input should be a valid integer.*'many'"):
        validate_recipe(_raw(data={"batch_size": "many"}))
    with pytest.raises(RecipeError, match="student: required key is missing"):
        validate_recipe({"stages": [{"type": "evaluate"}]})


def test_unknown_distill_loss_is_caught_before_running():
    with pytest.raises(RecipeError, match="unknown loss 'kdd' \\(did you mean 'kd'\\?\\)"):
        validate_recipe(_raw(teacher={"name": "cifar_resnet20"}, stages=[{"type": "distill", "losses": [{"name": "kdd"}]}]))


def test_set_overrides_any_key():
    raw = _raw(stages=[{"type": "train", "model": "student", "epochs": 5}, {"type": "evaluate"}])
    out = apply_overrides(raw, ["stages.0.epochs=2", "stages.train.lr=0.01", "data.augment.hflip=false", "student.small_input=true"])
    assert out["stages"][0] == {"type": "train", "model": "student", "epochs": 2, "lr": 0.01}
    assert out["data"]["augment"]["hflip"] is False and out["student"]["small_input"] is True
    assert raw["stages"][0]["epochs"] == 5  # the input is not mutated
    recipe = validate_recipe(out)
    assert recipe.stages[0].config.train.epochs == 2 and recipe.stages[0].config.train.lr == 0.01


def test_set_errors():
    with pytest.raises(RecipeError, match="expected key.path=value"):
        apply_overrides(_raw(), ["data.batch_size"])
    with pytest.raises(RecipeError, match="index 7 out of range"):
        apply_overrides(_raw(), ["stages.7.epochs=1"])
    with pytest.raises(RecipeError, match="data.nope: unknown key"):
        validate_recipe(apply_overrides(_raw(), ["data.nope=1"]))


def test_yaml_is_safe_loaded(tmp_path):
    bad = tmp_path / "evil.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="recipe not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_a_stage_holds_its_spec_whether_keys_are_flat_or_nested():
    flat = validate_recipe(_raw(stages=[{"type": "train", "model": "student", "epochs": 3, "lr": 0.01}])).stages[0].config
    nested = validate_recipe(_raw(stages=[{"type": "train", "model": "student", "train": {"epochs": 3}, "lr": 0.01}]))
    assert flat.train.epochs == 3 and flat.train.lr == 0.01 and flat.model == "student"
    assert nested.stages[0].config.train == flat.train  # nested form plus a flat key: merged, not refused
    with pytest.raises(RecipeError, match=r"stages.0.epochs: Input should be greater than or equal to 0"):
        validate_recipe(_raw(stages=[{"type": "train", "model": "student", "epochs": -1}]))


def test_roles_must_exist_when_a_stage_reads_them():
    prune = {"type": "prune", "model": "student", "into": "pruned", "macs_ratio": 0.5}
    ok = validate_recipe(_raw(stages=[prune, {"type": "export", "models": ["student", "pruned"]}]))
    assert [s.config.roles_made() for s in ok.stages] == [["pruned"], []]
    with pytest.raises(RecipeError) as e:  # read before the stage that makes it, and a typo
        validate_recipe(_raw(stages=[{"type": "export", "models": ["pruned"]}, prune, {"type": "evaluate", "models": ["prunned"]}]))
    assert "stages.0.models: no model with role 'pruned' at this stage" in str(e.value)
    assert "stages.2.models: no model with role 'prunned' at this stage (did you mean 'pruned'?)" in str(e.value)
    with pytest.raises(RecipeError, match="stages.0.teachers: no model with role 'teacher'"):
        validate_recipe(_raw(stages=[{"type": "distill", "teachers": ["teacher"]}]))
    with pytest.raises(RecipeError, match="roles starting with 'teacher' are the run's KD teachers"):
        validate_recipe(_raw(stages=[{**prune, "into": "teacher_small"}]))


def test_prune_timing_backend_is_checked_before_the_run():
    from edgecv.recipe import check_recipe_resources

    stage = {"type": "prune", "model": "student", "macs_ratio": 0.5}
    assert check_recipe_resources(validate_recipe(_raw(stages=[stage]))) == []
    problems = check_recipe_resources(validate_recipe(_raw(stages=[{**stage, "backend": "onxx"}])))
    assert problems and problems[0].startswith("stages.0.backend: unknown backend 'onxx' (did you mean 'onnx")
    # not timed at all: no backend needed
    assert check_recipe_resources(validate_recipe(_raw(stages=[{**stage, "backend": "onxx", "measure_latency": False}]))) == []


def test_an_uninstalled_timing_backend_is_named_with_its_extra():
    from edgecv.backends import BACKENDS, BaseBackend, Precision
    from edgecv.recipe import check_recipe_resources

    class Missing(BaseBackend):  # a backend whose library is not installed here
        name, suffix, extra, format = "missingrt", ".mrt", "missingrt", "mrt"
        modules = ("edgecv_no_such_runtime",)

    with BACKENDS.temporarily("missingrt", Missing([Precision("fp32")])):
        problems = check_recipe_resources(validate_recipe(_raw(stages=[
            {"type": "prune", "model": "student", "macs_ratio": 0.5, "backend": "missingrt"}])))
    assert len(problems) == 1 and "pip install 'edgecv[missingrt]'" in problems[0] and "measure_latency: false" in problems[0]


def _ensemble(*members, **keys):
    return {"name": "ensemble", "members": [{"name": m} if isinstance(m, str) else m for m in members], **keys}


def test_ensemble_teacher_problems_name_their_key_before_anything_runs(tmp_path):
    from edgecv.recipe import check_recipe_resources

    ok = validate_recipe(_raw(teacher=_ensemble("cifar_resnet20", "cifar_resnet56")))
    assert ok.teacher.members[1].name == "cifar_resnet56" and check_recipe_resources(ok) == []
    bad = validate_recipe(_raw(teacher=_ensemble("cifar_resnet20", "cifar_resnet65"),
                               teachers=[_ensemble("cifar_resnet20", {"name": "cifar_resnet56", "checkpoint": str(tmp_path / "no.th")})]))
    problems = check_recipe_resources(bad)
    assert problems[0].startswith("teacher.members.1.name: unknown model 'cifar_resnet65' (did you mean 'cifar_resnet56'?)")
    assert problems[1] == f"teachers.0.members.1.checkpoint: file not found: {tmp_path / 'no.th'}"
    mixed = check_recipe_resources(validate_recipe(_raw(teacher=_ensemble("cifar_resnet20", "test_vit"))))
    assert len(mixed) == 1 and mixed[0].startswith("teacher.members: ensemble members expect different input normalisation "
                                                  "(members.0 (cifar_resnet20): mean [0.485, 0.456, 0.406]")
    # members differing only in their default class count (10 vs timm's 1000) both get the data's: no problem
    assert check_recipe_resources(validate_recipe(_raw(teacher=_ensemble("cifar_resnet20", "resnet18")))) == []


@pytest.mark.parametrize("teacher,expected", [
    (_ensemble("cifar_resnet20"), "teacher.members: Value error, an ensemble needs at least two members"),
    (_ensemble("cifar_resnet20", "cifar_resnet56", weights=[1.0]), "teacher.weights: Value error, one weight per member: 2 members, 1 weights"),
    (_ensemble("cifar_resnet20", "cifar_resnet56", weights=[1.0, 0]), "teacher.weights: Value error, weights must be positive"),
    (_ensemble("cifar_resnet20", "cifar_resnet56", pretrained=True), "teacher.pretrained: Value error, an ensemble has no pretrained"),
    (_ensemble({"name": "cifar_resnet20", "num_classes": 10}, {"name": "cifar_resnet56", "num_classes": 100}),
     "teacher.members: Value error, ensemble members must share one class count, got num_classes members.0: 10, members.1: 100"),
    (_ensemble("cifar_resnet20", {"name": "cifar_resnet56", "chekpoint": "x"}),
     "teacher.members.1.chekpoint: unknown key (did you mean 'checkpoint'?)"),
    ({"name": "cifar_resnet20", "members": [{"name": "cifar_resnet8"}]}, "teacher.members: Value error, only name: ensemble has members"),
])
def test_ensemble_schema_errors_name_the_key(teacher, expected):
    with pytest.raises(RecipeError) as e:
        validate_recipe(_raw(teacher=teacher))
    assert expected in str(e.value)


def test_the_student_is_not_an_ensemble():
    with pytest.raises(RecipeError, match="student.name: an ensemble is a teacher"):
        validate_recipe(_raw(student=_ensemble("cifar_resnet8", "cifar_resnet14")))


@pytest.mark.parametrize("stage", [{"type": "export", "to": ["onnx"], "precision": ["int8"]},
                                   {"type": "quantize", "precision": "int8"}])
def test_export_and_quantize_stages_take_a_target(stage):
    """`target` names the CPU the artifacts are for; a misspelt one is refused before anything runs."""
    recipe = validate_recipe(_raw(stages=[{**stage, "target": "x86-avx2"}]))
    assert recipe.stages[0].config.target == "x86-avx2"
    assert validate_recipe(_raw(stages=[stage])).stages[0].config.target == "host"
    with pytest.raises(RecipeError) as e:
        validate_recipe(_raw(stages=[{**stage, "target": "arm64-a67"}]))
    assert "stages.0.target: Value error, unknown target 'arm64-a67' (did you mean 'arm64-a76'?)" in str(e.value)
