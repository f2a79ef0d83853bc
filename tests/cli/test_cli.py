from pathlib import Path

import pytest

from edgecv.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_for_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    for name in COMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert len(capsys.readouterr().out) > 200, name


def test_validate_ok_and_bad(tmp_path, capsys):
    assert main(["validate", str(ROOT / "recipes" / "quickstart.yaml")]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("student: {name: mobilenetv3_small_050}\nstages: [{type: evaluate, modles: [student]}]\n")
    assert main(["validate", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "stages.0.modles: unknown key (did you mean 'models'?)" in out and "Traceback" not in out


def test_set_override_on_validate(capsys):
    assert main(["validate", str(ROOT / "recipes" / "quickstart.yaml"), "--set", "data.batch_size=oops"]) == 2
    assert "data.batch_size" in capsys.readouterr().out


def test_console_script_runs_the_cli():
    """The installed `edgecv` entry point is this package's main, and `python -m edgecv` answers."""
    import subprocess
    import sys
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "edgecv"]
    assert ep.load() is main and build_parser().prog == "edgecv"
    out = subprocess.run([sys.executable, "-m", "edgecv", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("edgecv ")


def test_validate_checks_models_checkpoints_and_data_folders(tmp_path, capsys):
    """What `run` would refuse, `validate` reports too: each problem on its own line, naming its key."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "student: {name: mobilenetv3_smal_050}\n"
        "teacher: {name: cifar_resnet20, checkpoint: missing.th}\n"
        "teachers: [{name: resnet_nope}]\n"
        f"data: {{source: imagefolder, root: {tmp_path / 'nowhere'}}}\n"
        "stages: [{type: evaluate}]\n")
    assert main(["validate", str(recipe)]) == 2
    out = capsys.readouterr().out
    assert "student.name: unknown model 'mobilenetv3_smal_050' (did you mean 'mobilenetv3_small_050'?)" in out
    assert "teachers.0.name: unknown model 'resnet_nope'" in out
    assert "teacher.checkpoint: file not found: missing.th" in out
    assert f"data.root: folder not found: {tmp_path / 'nowhere'}" in out
    assert "teacher.name" not in out and "Traceback" not in out  # cifar_resnet20 is known
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)
    assert main(["validate", str(recipe), "--set", "student.name=mobilenetv3_small_050", "--set", "teachers=[]",
                 "--set", "teacher.checkpoint=null", "--set", f"data.root={tmp_path / 'data'}"]) == 2
    out = capsys.readouterr().out
    assert f"data.root: folder not found: {tmp_path / 'data' / 'val'} (expected val/ inside the root)" in out
    assert "train" not in out.replace(str(tmp_path), "")
    (tmp_path / "data" / "val" / "a").mkdir(parents=True)
    assert main(["validate", str(recipe), "--set", "student.name=mobilenetv3_small_050", "--set", "teachers=[]",
                 "--set", "teacher.checkpoint=null", "--set", f"data.root={tmp_path / 'data'}"]) == 0
    assert "ok" in capsys.readouterr().out
