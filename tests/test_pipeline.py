"""The main job end to end: the quickstart recipe at a reduced size, through the CLI and the API."""
import json
from pathlib import Path

import pytest

import edgecv
from edgecv.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
SMALL = ["stages.0.epochs=1", "stages.1.epochs=2", "stages.prune.final_epochs=1", "data.max_train=100",
         "data.max_val=50", "stages.4.calib_size=32", "stages.5.calib_size=32", "stages.benchmark.min_runs=5",
         "stages.benchmark.min_time_s=0", "stages.benchmark.warmup=1"]
CHAIN = ["train", "distill", "prune", "export", "export", "export", "benchmark"]


def _args(out, extra=()):
    return ["run", str(QUICKSTART), "--out", str(out), *[a for s in [*SMALL, *extra] for a in ("--set", s)]]


def test_quickstart_end_to_end(tmp_path, capsys):
    """The main job is the whole chain: teacher -> KD student -> pruned student -> INT8, each built for
    ONNX Runtime and TFLite and benchmarked into one ledger with speed-ups over the teacher."""
    assert main(_args(tmp_path / "run")) == 0
    run = tmp_path / "run"
    doc = json.loads((run / "results.json").read_text())
    assert [s["type"] for s in doc["stages"]] == CHAIN
    assert doc["seed"] == 0 and doc["recipe"]["name"] == "quickstart" and doc["environment"]
    bench = {(r["role"], r["backend"], r["precision"]): r for r in doc["rows"] if r.get("kind") != "prune_step"}
    expected = {(role, b, "fp32") for role in ("teacher", "student", "pruned") for b in ("torch", "onnxruntime", "tflite")}
    expected |= {("pruned", "onnxruntime", "int8"), ("pruned", "tflite", "int8"), ("student", "onnxruntime", "int8")}
    assert set(bench) == expected
    for key, row in bench.items():
        assert row["status"] in ("ok", "inaccurate"), (key, row.get("reason"))
        for field in ("top1", "latency_ms_p50", "params", "macs", "speedup_vs_teacher", "speedup_vs_teacher_torch",
                      "threads"):
            assert row[field] is not None, (key, field)
        assert row["threads"] == 2
    teacher, student, pruned = (bench[(r, "torch", "fp32")] for r in ("teacher", "student", "pruned"))
    assert student["params"] < teacher["params"] and student["macs"] < teacher["macs"]
    assert pruned["macs"] <= 0.55 * student["macs"] and pruned["params"] < student["params"]
    assert bench[("teacher", "onnxruntime", "fp32")]["speedup_vs_teacher"] == 1.0
    report = (run / "report.md").read_text()
    assert "x teacher" in report and "x torch teacher" in report and "## Pruning steps" in report and (run / "pareto.png").is_file()
    assert "## What to deploy" in report and {d["backend"] for d in doc["deploy"]} == {"torch", "onnxruntime", "tflite"}
    printed = capsys.readouterr().out
    # the printed table is the narrow one (100 columns): each model by its role; notes and the choice under it
    table = [line for line in printed.splitlines() if line.startswith("│")]
    assert len(table) == len(bench) and max(len(line.rstrip()) for line in table) <= 100
    assert "Deploy (per backend" in printed and "CPU: " in printed and "report:" in printed
    assert all(row["target"] == "host" and row["cpu_features"] for row in bench.values())
    # the pruned student's checkpoint is an edgecv model file that rebuilds its pruned shapes
    model, meta = edgecv.load_model(run / "stages" / "6_benchmark" / "models" / "pruned.pt")
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["extensions"] == ["pruning"]


def test_resume_after_interrupted_run(tmp_path, monkeypatch):
    import edgecv.train.loop as loop

    real_fit = loop.fit
    calls = []

    def fit_killed_in_distill(*a, **k):
        calls.append(k.get("desc"))
        if k.get("desc") == "distill" and len(calls) == 2:
            def die(epoch, row):
                raise KeyboardInterrupt
            k["on_epoch_end"] = die
        return real_fit(*a, **k)

    monkeypatch.setattr(loop, "fit", fit_killed_in_distill)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        edgecv.run(QUICKSTART, out_dir=out, overrides=SMALL)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["type"] for r in manifest["records"]] == ["train"]
    assert (out / "stages" / "1_distill" / "last.pt").is_file()
    ctx = edgecv.run(QUICKSTART, out_dir=out, overrides=SMALL, resume=True)
    assert calls[:3] == ["train teacher", "distill", "distill"]  # train was not repeated
    assert [r["type"] for r in ctx.records] == CHAIN
    assert ctx.records[1]["epochs_run"] == 2
    assert json.loads((out / "results.json").read_text())["rows"]


def test_not_empty_out_dir_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    assert main(_args(tmp_path)) == 2
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_default_out_dir_is_under_home_or_edgecv_runs(tmp_path, monkeypatch):
    from edgecv.pipeline import default_out_dir

    monkeypatch.delenv("EDGECV_RUNS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    out = default_out_dir("x")
    assert out.parent == tmp_path / "home" / ".edgecv" / "runs"  # never the current folder
    assert out.name.startswith("x-") and len(out.name) == len("x-20250101-120000")
    monkeypatch.setenv("EDGECV_RUNS", str(tmp_path / "runs"))
    assert default_out_dir("x").parent == tmp_path / "runs"


TINY = """name: tiny
seed: 0
data: {source: digits, image_size: 32, batch_size: 32, workers: 0, max_train: 60, max_val: 30}
student: {name: mobilenetv3_small_050, small_input: true}
stages:
  - {type: evaluate, latency: false}
"""


def _tiny(tmp_path, extra_stages=()) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "".join(f"  - {{type: {s}}}\n" for s in extra_stages))
    return path


@pytest.fixture
def scratch_stage():
    """Registers a stage `test_stage` for one test; its behaviour is `scratch_stage.action` (a callable)."""
    from edgecv.stages import STAGES, StageDef
    from edgecv.stages.registry import StageConfig

    class Config(StageConfig):
        pass

    class Holder:
        action = staticmethod(lambda: None)

    def run(ctx, cfg, stage_dir):
        Holder.action()
        return {"ran": True}

    with STAGES.temporarily("test_stage", StageDef("test_stage", Config, run)):
        yield Holder


def test_resume_with_a_different_recipe_is_refused(tmp_path, capsys):
    recipe, out = _tiny(tmp_path), tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["recipe_fingerprint"]["sha256"]) == 64
    assert manifest["recipe_fingerprint"]["flat"]["data.max_val"] == 30
    results = (out / "results.json").read_text()
    capsys.readouterr()
    argv = ["run", str(recipe), "--out", str(out), "--resume"]
    assert main([*argv, "--set", "data.max_val=20", "--set", "stages.0.latency=true"]) == 2
    printed = capsys.readouterr().out
    assert "different recipe" in printed and "data.max_val: 30 -> 20" in printed
    assert "stages.0.latency: false -> true" in printed and "Traceback" not in printed
    assert (out / "results.json").read_text() == results  # nothing was credited to the other recipe
    # a folder from before fingerprints were recorded is checked against its recipe.json
    del manifest["recipe_fingerprint"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*argv, "--set", "seed=1"]) == 2
    assert "seed: 0 -> 1" in capsys.readouterr().out
    assert main(argv) == 0  # the same recipe resumes
    assert "done earlier, skipped" in capsys.readouterr().out


def _interrupt_the_first_call(scratch_stage) -> list:
    """The scratch stage raises KeyboardInterrupt the first time it runs (a Ctrl-C), then runs; returns its calls."""
    calls = []

    def interrupt_once():
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    scratch_stage.action = staticmethod(interrupt_once)
    return calls


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, scratch_stage):
    import shlex

    calls = _interrupt_the_first_call(scratch_stage)
    recipe, out = _tiny(tmp_path, ["test_stage"]), tmp_path / "my run"
    assert main(["run", str(recipe), "--out", str(out), "--set", "data.max_train=50"]) == 130
    err = capsys.readouterr().err.strip()
    hint = f"edgecv run {shlex.quote(str(recipe))} --out {shlex.quote(str(out))} --set data.max_train=50 --resume"
    assert err == f"interrupted; resume with: {hint}"
    assert (out / "manifest.json").is_file()  # the finished evaluate stage is kept
    argv = shlex.split(hint)
    assert argv[0] == "edgecv" and main(argv[1:]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["type"] for r in manifest["records"]] == ["evaluate", "test_stage"] and len(calls) == 2


def test_a_failed_run_removes_only_what_it_created(tmp_path, capsys, scratch_stage):
    def fail():
        raise RuntimeError("stage failed on purpose")

    scratch_stage.action = staticmethod(fail)
    recipe = tmp_path / "fail.yaml"
    recipe.write_text(TINY.replace("  - {type: evaluate, latency: false}", "  - {type: test_stage}"))
    out = tmp_path / "new"
    assert main(["run", str(recipe), "--out", str(out)]) == 2
    assert "stage failed on purpose" in capsys.readouterr().out
    assert not out.exists()  # the run made it and nothing finished: gone
    empty = tmp_path / "premade"
    empty.mkdir()
    assert main(["run", str(recipe), "--out", str(empty)]) == 2
    assert empty.is_dir() and list(empty.iterdir()) == []  # the user's folder stays, emptied of the run's files
    later = _tiny(tmp_path, ["test_stage"])
    kept = tmp_path / "kept"
    assert main(["run", str(later), "--out", str(kept)]) == 2
    records = json.loads((kept / "manifest.json").read_text())["records"]
    assert [r["type"] for r in records] == ["evaluate"]  # a finished stage is never deleted


def test_run_refuses_unknown_models_before_making_a_folder(tmp_path, capsys):
    recipe, out = _tiny(tmp_path), tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out), "--set", "student.name=mobilenetv3_smal_050"]) == 2
    assert "student.name: unknown model 'mobilenetv3_smal_050'" in capsys.readouterr().out
    assert not out.exists()


def test_distill_stage_takes_replayed_epochs_from_the_teacher_cache(tmp_path):
    """`teacher_cache: {views: 1}` in a recipe: the second distillation epoch replays the first one's
    batches and gets their teacher outputs from the cache, which the stage's record reports."""
    assert main(_args(tmp_path / "run", ["stages.1.teacher_cache.views=1"])) == 0
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    stats = doc["stages"][1]["teacher_cache"]
    assert stats["views"] == 1 and stats["mismatches"] == 0
    assert stats["hits"] == stats["misses"] > 0  # epoch 1 labelled every batch, epoch 2 reused every label
    assert list(Path(stats["directory"]).glob("view000.pt"))


def test_an_ensemble_teacher_is_one_teacher_and_one_ledger_row(tmp_path):
    """`teacher: {name: ensemble, members: [...]}` is distilled from as one teacher (its averaged logits, cached
    with teacher_cache), evaluated, exported and benchmarked as one model, and saved as one file."""
    from edgecv.models.ensemble import Ensemble
    from edgecv.recipe import validate_recipe

    raw = {"name": "ens", "seed": 0, "device": "cpu",
           "data": {"source": "digits", "image_size": 16, "batch_size": 16, "max_train": 32, "max_val": 30, "workers": 0},
           "teacher": {"name": "ensemble", "members": [{"name": "cifar_resnet8"}, {"name": "cifar_resnet14"}]},
           "student": {"name": "cifar_resnet8"},
           "stages": [{"type": "distill", "epochs": 2, "teacher_cache": {"views": 1}},
                      {"type": "evaluate", "models": ["teacher"], "latency": False},
                      {"type": "export", "models": ["teacher"], "to": ["onnx"]},
                      {"type": "benchmark", "threads": 1, "warmup": 1, "min_runs": 3, "min_time_s": 0}]}
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    distill = ctx.records[0]
    assert distill["teachers"] == ["teacher"]
    assert distill["teacher_cache"]["hits"] == distill["teacher_cache"]["misses"] == 2  # epoch 2 reused epoch 1's
    rows = {(r["role"], r["backend"]): r for r in ctx.results}
    assert set(rows) == {("teacher", "torch"), ("teacher", "onnxruntime")}
    assert all(r["name"] == "ensemble" and r["status"] == "ok" for r in rows.values())
    assert rows[("teacher", "onnxruntime")]["agreement"] == 100.0
    assert rows[("teacher", "torch")]["params"] == sum(p.numel() for p in ctx.models["teacher"].parameters())
    saved, _ = edgecv.load_model(Path(ctx.records[-1]["model_files"]["teacher"]))
    assert isinstance(saved, Ensemble) and len(saved.members) == 2


# --------------------------------------------------------------------------- resume checks its inputs

FOLDER_RECIPE = """name: tiny
seed: 0
device: cpu
data: {source: imagefolder, root: data, image_size: 32, batch_size: 8, workers: 0}
student: {name: cifar_resnet8}
stages:
  - {type: evaluate, latency: false}
  - {type: test_stage}
"""


def _image_folder(root: Path, classes: list[str], per_class: int = 2) -> Path:
    import numpy as np
    from PIL import Image

    for split in ("train", "val"):
        for i, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True)
            for j in range(per_class):
                arr = np.random.default_rng(10 * i + j).integers(0, 255, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / cls / f"{j}.png")
    return root


@pytest.fixture
def two_datasets(tmp_path, scratch_stage, monkeypatch):
    """ds1/data (cat, dog) and ds2/data (car, plane), a recipe in rec/ naming `data: data` (relative), and a
    stage that is interrupted the first time it runs."""
    _image_folder(tmp_path / "ds1" / "data", ["cat", "dog"])
    _image_folder(tmp_path / "ds2" / "data", ["car", "plane"])
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "tiny.yaml").write_text(FOLDER_RECIPE)
    _interrupt_the_first_call(scratch_stage)
    return tmp_path


def test_resume_from_another_folder_does_not_switch_datasets(two_datasets, monkeypatch, capsys):
    """The issue's case: started in ds1 with `data.root: data`, resumed from ds2 with the same command:
    refused, naming the data folder and its classes, and nothing of ds2 is trained or reported."""
    monkeypatch.chdir(two_datasets / "ds1")
    argv = ["run", "../rec/tiny.yaml", "--out", "../T"]
    assert main(argv) == 130
    recorded = json.loads((two_datasets / "T" / "recipe.json").read_text())
    assert recorded["data"]["root"] == str(two_datasets / "ds1" / "data")  # absolute, not 'data'
    capsys.readouterr()
    monkeypatch.chdir(two_datasets / "ds2")
    assert main([*argv, "--resume"]) == 2
    printed = capsys.readouterr().out
    assert "data.root" in printed and "ds1/data -> " in printed and "ds2/data" in printed
    assert "cat, dog -> car, plane" in printed and "Traceback" not in printed
    assert not (two_datasets / "T" / "results.json").exists()
    monkeypatch.chdir(two_datasets / "ds1")
    assert main([*argv, "--resume"]) == 0  # the same data resumes


def test_resume_accepts_the_same_folder_reached_another_way(two_datasets, monkeypatch, capsys):
    """A path resolved against the recipe's folder at the start and against the current folder at resume
    is the same folder: not 'a different recipe'."""
    import shutil

    shutil.move(two_datasets / "ds1" / "data", two_datasets / "rec" / "data")
    monkeypatch.chdir(two_datasets)  # no ./data here: resolved against the recipe's folder
    out = two_datasets / "T"
    assert main(["run", "rec/tiny.yaml", "--out", str(out)]) == 130
    monkeypatch.chdir(two_datasets / "rec")  # ./data is the same folder now
    assert main(["run", "tiny.yaml", "--out", str(out), "--resume"]) == 0, capsys.readouterr().out


def test_resume_refuses_data_that_changed_in_place_and_accepts_data_that_moved(two_datasets, monkeypatch, capsys):
    import shutil

    data = two_datasets / "ds1" / "data"
    out = two_datasets / "T"
    argv = ["run", str(two_datasets / "rec" / "tiny.yaml"), "--out", str(out), "--set", f"data.root={data}"]
    assert main(argv) == 130
    extra = data / "train" / "cat" / "extra.png"
    shutil.copy(data / "train" / "cat" / "0.png", extra)
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2
    printed = capsys.readouterr().out
    assert "data changed" in printed and str(data) in printed and "8 -> 9 files" in printed
    extra.unlink()
    moved = two_datasets / "moved"
    shutil.copytree(data, moved)
    assert main([*argv[:-1], f"data.root={moved}", "--resume"]) == 0
    assert "same classes, files and bytes" in capsys.readouterr().out


def test_resume_of_a_folder_holding_no_run_is_refused(tmp_path, capsys):
    typo = tmp_path / "typo"
    assert main(["run", str(_tiny(tmp_path)), "--out", str(typo), "--resume"]) == 2
    printed = capsys.readouterr().out
    assert "holds no run" in printed and str(typo) in printed and not typo.exists()
    (tmp_path / "empty").mkdir()
    assert main(["run", str(_tiny(tmp_path)), "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().out


def test_run_out_over_a_file_is_one_line_before_anything_runs(tmp_path, capsys):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep")
    for out in (existing, existing / "run"):
        assert main(["run", str(_tiny(tmp_path)), "--out", str(out)]) == 2
        printed = capsys.readouterr()
        assert "is a file" in printed.out and "Traceback" not in printed.out + printed.err
    assert existing.read_text() == "keep"


def test_the_data_class_names_reach_every_artifact_a_recipe_builds(tmp_path):
    """ImageFolder classes (cat, dog) in every model file and artifact: ONNX FP32 and INT8, the torch
    reference, the quantize stage's files; and an export stage's `class_names` names its own artifacts."""
    from edgecv.backends import Artifact
    from edgecv.recipe import validate_recipe

    data = _image_folder(tmp_path / "data", ["cat", "dog"], per_class=4)
    raw = {"name": "named", "device": "cpu",
           "data": {"source": "imagefolder", "root": str(data), "image_size": 32, "batch_size": 4, "workers": 0},
           "student": {"name": "cifar_resnet8"},
           "stages": [{"type": "export", "to": ["onnx", "torch"], "precision": ["fp32", "int8"], "calib_size": 4},
                      {"type": "quantize", "precision": "int8", "calib_size": 4, "qat": {"mode": "never"}},
                      {"type": "export", "to": ["onnx"], "class_names": ["Cat", "Dog"]}]}
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    built = [a for a in ctx.artifacts if a.get("status") == "ok" and a.get("path")]
    assert len(built) >= 5
    for entry in built:
        names = Artifact.from_path(entry["path"]).metadata.class_names
        expected = ["Cat", "Dog"] if "2_export" in str(entry["path"]) else ["cat", "dog"]
        assert names == expected, entry["path"]
    for record in ctx.records:
        for f in record["model_files"].values():
            assert edgecv.load_model(f).meta["class_names"] == ["cat", "dog"]
    bad = {**raw, "stages": [{"type": "export", "class_names": ["only one"]}]}
    with pytest.raises(ValueError, match=r"stages.0.class_names: 1 names for the data's 2 classes"):
        edgecv.run(validate_recipe(bad), out_dir=tmp_path / "bad")
