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


def test_console_script_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'edgecv = "edgecv.cli:main"' in text
    assert build_parser().prog == "edgecv"
