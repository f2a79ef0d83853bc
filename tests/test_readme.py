"""The README's Python example, run as written (with `import edgecv` only): load a model, export it to
ONNX and TFLite, quantize it, benchmark both artifacts, predict one image with a Predictor. Its data
folder is a small copy of ../shared/data (the same teacher, 30 training and 50 validation images per
class: the suite stays fast); the recipe run at its end is left out (tests/test_recipes.py runs it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import need_shared
from tests.test_layers import ROOT


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    block = next(b for b in blocks if "edgecv.export(" in b)
    return block.split("\nctx = edgecv.run(")[0]


def small_shared(root: Path, train: int = 30, val: int = 50) -> Path:
    """A copy of the data the example reads (links, not copies), with fewer images per class."""
    (root / "teachers").mkdir(parents=True)
    (root / "teachers" / "resnet20-12fca82f.th").symlink_to(need_shared("teachers", "resnet20-12fca82f.th"))
    for split, n in (("train", train), ("val", val)):
        for cls in sorted(p for p in need_shared("cifar10", split).iterdir() if p.is_dir()):
            (root / "cifar10" / split / cls.name).mkdir(parents=True)
            for f in sorted(cls.iterdir())[:n]:
                (root / "cifar10" / split / cls.name / f.name).symlink_to(f)
    return root


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ai_edge_litert", reason="tflite extra not installed: pip install 'edgecv[tflite]'")
    data = small_shared(tmp_path / "data")
    code = readme_example()
    assert code.startswith("import edgecv\n") and "from " not in code and code.count("import ") == 1
    assert (data / "cifar10" / "val" / "cat" / "alley_cat_s_000013.png").exists()  # the image it predicts
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)  # the example writes its files where it runs
    exec(compile(code.replace('data = "../shared/data"', f'data = "{data}"'), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    int8, tflite, prediction = printed[-3:]
    assert int8.startswith("r20-int8.onnx ") and int8.endswith(" ok") and float(int8.split()[1]) > 85
    assert tflite.startswith("r20.tflite ")
    assert float(tflite.split()[1]) > 85 and tflite.endswith(" ok")
    assert prediction.startswith("['") and len(eval(prediction.split("] [")[0] + "]")) == 3
    assert {p.name for p in out.iterdir()} >= {"r20.onnx", "r20.tflite", "r20-int8.onnx"}
