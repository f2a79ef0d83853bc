"""No exception reaches the user as a traceback: expected ones are one line, unexpected ones one line plus
the file holding the full trace; outputs are checked before any work."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

import edgecv.cli.validate
from edgecv.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "recipes" / "quickstart.yaml")


def _fails(capsys, argv, code=2) -> str:
    assert main(argv) == code
    err = capsys.readouterr()
    text = err.out + err.err
    assert "Traceback" not in text and 'File "' not in text
    return text


def _oops(exc):
    def command(args):
        raise exc
    return command


class Surprise(Exception):
    pass


@pytest.mark.parametrize("exc", [
    TypeError("unsupported operand type(s) for +: 'int' and 'str'"), ZeroDivisionError("division by zero"),
    AttributeError("'NoneType' object has no attribute 'shape'"), IndexError("list index out of range"),
    RecursionError("maximum recursion depth exceeded"), AssertionError(), Surprise("deep inside a library"),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), StopIteration(),
], ids=lambda e: type(e).__name__)
def test_an_unexpected_exception_is_one_line_and_a_trace_file(exc, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(edgecv.cli.validate, "_validate", _oops(exc))
    text = _fails(capsys, ["validate", QUICKSTART], code=1)
    lines = text.strip().splitlines()
    assert len(lines) == 1 and type(exc).__name__ in lines[0]
    trace = Path(lines[0].rsplit("full traceback in ", 1)[1].rstrip(")").strip())
    assert trace.is_file() and trace.is_relative_to(tmp_path)
    body = trace.read_text()
    assert "Traceback (most recent call last)" in body and "def command" not in body and "raise exc" in body


@pytest.mark.parametrize("exc,shown", [
    (PermissionError(errno.EACCES, "Permission denied", "/root/x.onnx"), "Permission denied: /root/x.onnx"),
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "out"), "Is a directory: out"),
    (MemoryError(), "out of memory"),
], ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else "")
def test_environment_errors_are_one_line_without_a_trace_file(exc, shown, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(edgecv.cli.validate, "_validate", _oops(exc))
    text = _fails(capsys, ["validate", QUICKSTART])
    assert len(text.strip().splitlines()) == 1 and shown in text and not list(tmp_path.rglob("*.txt"))


def test_debug_mode_still_raises(monkeypatch):
    monkeypatch.setenv("EDGECV_DEBUG", "1")
    monkeypatch.setattr(edgecv.cli.validate, "_validate", _oops(TypeError("x")))
    with pytest.raises(TypeError):
        main(["validate", QUICKSTART])


def test_bench_outputs_are_checked_before_the_benchmark(tmp_path, capsys, monkeypatch):
    import edgecv.bench
    from edgecv.models import create_model, save_model

    model = save_model(create_model("cifar_resnet8", num_classes=10), tmp_path / "m.pt")
    monkeypatch.setattr(edgecv.bench, "benchmark_artifact", lambda *a, **k: pytest.fail("the benchmark ran"))
    existing = tmp_path / "notes.txt"
    existing.write_text("keep")
    assert "is a file" in _fails(capsys, ["bench", str(model), "--out", str(existing)])
    assert "is a file" in _fails(capsys, ["bench", str(model), "--out", str(existing / "ledger")])
    assert "is a folder" in _fails(capsys, ["bench", str(model), "--json", str(tmp_path)])
    assert "is a file" in _fails(capsys, ["bench", str(model), "--json", str(existing / "rows.json")])
    assert existing.read_text() == "keep"


def test_export_into_a_file_as_if_it_were_a_folder(tmp_path, capsys):
    existing = tmp_path / "FILE"
    existing.write_text("keep")
    text = _fails(capsys, ["export", "--model", "cifar_resnet8", "-o", str(existing / "x.onnx")])
    assert f"{existing} is a file, not a folder" in text and "Errno" not in text
    assert "is a folder" in _fails(capsys, ["export", "--model", "cifar_resnet8", "-o", str(tmp_path)])


def test_run_name_too_long_and_non_utf8_recipes_are_one_line(tmp_path, capsys):
    text = _fails(capsys, ["run", QUICKSTART, "--out", str(tmp_path / "r"), "--set", "name=" + "n" * 300])
    assert "name: " in text and "at most 100" in text and not (tmp_path / "r").exists()
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(Path(QUICKSTART).read_bytes().replace(b"name: quickstart", b"name: caf\xe9"))
    text = _fails(capsys, ["validate", str(bad)])
    assert str(bad) in text and "UTF-8" in text


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_raw_pickle_checkpoint_is_one_line_without_torch_warnings(tmp_path):
    """In a fresh process, as a user runs it (pytest would catch the warning before it reached stderr)."""
    import pickle
    import subprocess
    import sys

    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"state_dict": _Evil()}, protocol=4))
    for argv in (["export", "--checkpoint", str(raw), "-o", str(tmp_path / "x.onnx")], ["bench", str(raw)]):
        proc = subprocess.run([sys.executable, "-m", "edgecv", *argv], capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        lines = [line for line in out.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "not a weights-only checkpoint" in lines[0], out
        assert "Warning" not in out and "this must never run" not in out
