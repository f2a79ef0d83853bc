"""`edgecv sweep` refuses bad input with one clear line before any trial runs, and nothing is left behind."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import pytest

from edgecv.cli import main

from .conftest import TINY

T = "stages.distill.losses.0.temperature"


def _no_trial(tmp_path, capsys, *args: str) -> str:
    out = tmp_path / "sweep"
    code = main(["sweep", str(TINY), *args, "--out", str(out)])
    text = capsys.readouterr()
    lines = [ln for ln in (text.out + text.err).splitlines() if ln.strip()]
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not out.exists()  # no folder, no study, no trial
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--grid", "data.bach_size=16,32"], "--grid data.bach_size: not a key of this recipe's schema: data.bach_size: "
                                         "unknown key (did you mean 'batch_size'?)"),
    (["--grid", f"{T}="], f"--grid {T}=: empty grid"),
    (["--grid", "stages.distill.epochs=2,-1"], "--grid stages.distill.epochs=-1: the recipe schema rejects this value"),
    (["--random", "3", "--space", "stages.distill.losses.0.alpha=0:2"], "alpha=2.0: the recipe schema rejects this value"),
    (["--tpe", "3", "--space", f"{T}=0:4:log"], "a log range needs low > 0"),
    (["--random", "3"], "--random N needs the space to sample: --space"),
    (["--grid", f"{T}=2,4", "--space", f"{T}=1:2"], "--space is for --random/--tpe"),
    (["--grid", f"{T}=2,4", "--objective", "score"], "give --latency-bound MS"),
    (["--grid", f"{T}=2,4", "--objective", "acc"], "--objective acc: unknown objective"),
    (["--grid", f"{T}=2,4", "--set", "data.max_val=0"], "data.max_val: Input should be greater than or equal to 1"),
])
def test_bad_input_is_one_line_before_any_trial(tmp_path, capsys, args, message):
    assert message in _no_trial(tmp_path, capsys, *args)


def test_unreachable_postgresql_is_refused_quickly(tmp_path, capsys):
    t0 = time.monotonic()
    line = _no_trial(tmp_path, capsys, "--grid", f"{T}=2,4", "--storage", "postgresql://edgecv:secret@127.0.0.1:1/none")
    assert time.monotonic() - t0 < 30
    assert line.startswith("error: --storage postgresql://edgecv:***@127.0.0.1:1/none: ") and "secret" not in line
    if importlib.util.find_spec("psycopg2") or importlib.util.find_spec("psycopg"):
        assert "cannot connect" in line and "Connection refused" in line
    else:
        assert "pip install 'edgecv[sweep]'" in line


def test_unreachable_redis_and_bad_urls_are_refused(tmp_path, capsys):
    line = _no_trial(tmp_path, capsys, "--grid", f"{T}=2,4", "--storage", "redis://127.0.0.1:1/0")
    assert line.startswith("error: --storage redis://127.0.0.1:1/0: ")
    assert ("cannot connect" in line) if importlib.util.find_spec("redis") else ("pip install 'edgecv[sweep]'" in line)
    assert "not a storage URL" in _no_trial(tmp_path, capsys, "--grid", f"{T}=2,4", "--storage", "nonsense")
    assert "folder not found" in _no_trial(tmp_path, capsys, "--grid", f"{T}=2,4", "--storage",
                                           f"sqlite:///{tmp_path}/no/such/dir/study.db")


def test_a_recipe_that_measures_nothing_is_refused(tmp_path, capsys):
    recipe = tmp_path / "train_only.yaml"
    recipe.write_text(TINY.read_text().split("  - type: evaluate")[0])
    code = main(["sweep", str(recipe), "--grid", f"{T}=2,4", "--out", str(tmp_path / "s")])
    assert code == 2 and "has no evaluate or benchmark stage" in capsys.readouterr().out
    assert not (tmp_path / "s").exists()


def test_the_cli_does_not_import_optuna_until_a_sweep_runs():
    code = ("import sys; from edgecv.cli import build_parser; build_parser(); "
            "assert 'optuna' not in sys.modules, 'optuna imported'; print('light')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "light" in res.stdout, res.stderr
