"""`edgecv export` from a model name, an edgecv model file, or a run folder."""
from __future__ import annotations

import json

import pytest

from edgecv.backends import Artifact
from edgecv.cli import main
from edgecv.models import create_model, save_model


def _ok(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr()
    assert rc == 0, out
    return out.out.replace("\n", " ")


def test_export_by_model_name_with_a_plain_checkpoint(tmp_path, capsys):
    from tests.conftest import need_shared

    ckpt = need_shared("teachers", "resnet20-12fca82f.th")
    out = tmp_path / "sub" / "r20.onnx"
    printed = _ok(capsys, ["export", "--model", "cifar_resnet20", "--checkpoint", str(ckpt), "--to", "onnx", "-o", str(out)])
    assert "agreement 100.0%" in printed
    meta = Artifact.from_path(out).metadata
    assert meta.source_model == "cifar_resnet20" and meta.input_shape == ["batch", 3, 32, 32]
    assert meta.extra["source_checkpoint"] == str(ckpt.resolve())
    assert sorted(p.name for p in out.parent.iterdir()) == ["r20.onnx", "r20.onnx.edgecv.json"]  # no temp files left


def test_export_an_edgecv_model_file_and_a_run(tmp_path, capsys):
    model = create_model("mobilenetv3_small_050", num_classes=3, small_input=True)
    f = save_model(model, tmp_path / "m.pt", {"class_names": ["a", "b", "c"]})
    out = tmp_path / "m.onnx"
    _ok(capsys, ["export", "--checkpoint", str(f), "--input-size", "32", "-o", str(out)])
    meta = Artifact.from_path(out).metadata
    assert meta.class_names == ["a", "b", "c"] and meta.input_shape[-1] == 32

    run = tmp_path / "run"  # the layout edgecv.pipeline writes
    (run / "stages" / "0_train" / "models").mkdir(parents=True)
    student = save_model(model, run / "stages" / "0_train" / "models" / "student.pt", {"class_names": ["a", "b", "c"]})
    (run / "manifest.json").write_text(json.dumps({"records": [{"stage": "0_train", "model_files": {"student": str(student)}}]}))
    (run / "recipe.json").write_text(json.dumps({"data": {"image_size": 32, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
    out2 = tmp_path / "run_student.onnx"
    _ok(capsys, ["export", str(run), "--to", "onnx", "-o", str(out2)])
    meta2 = Artifact.from_path(out2).metadata
    assert meta2.mean == [0.5, 0.5, 0.5] and meta2.input_shape[-1] == 32 and meta2.source_model == "mobilenetv3_small_050"


@pytest.mark.parametrize("argv,message", [
    (["export", "-o", "{tmp}/x.onnx"], "nothing to export"),
    (["export", "--model", "cifar_resnet20", "-o", "{tmp}/x.tflite", "--to", "onnx"], "writes '.onnx' files"),
    (["export", "--model", "cifar_resnet2", "-o", "{tmp}/x.onnx"], "did you mean"),
    (["export", "--model", "cifar_resnet20", "--to", "onnxx", "-o", "{tmp}/x.onnx"], "unknown backend"),
    (["export", "{tmp}", "-o", "{tmp}/x.onnx"], "no manifest.json"),
    (["export", "--checkpoint", "{tmp}/missing.pt", "-o", "{tmp}/x.onnx"], "checkpoint not found"),
])
def test_export_errors_are_clear(argv, message, tmp_path, capsys):
    rc = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr()
    text = (err.out + err.err).replace("\n", " ")
    assert rc == 2 and message in text and "Traceback" not in text
    assert not (tmp_path / "x.onnx").exists()


def test_plain_state_dict_without_model_says_to_pass_model(tmp_path, capsys):
    import torch

    f = tmp_path / "sd.pt"
    torch.save(create_model("cifar_resnet20").state_dict(), f)
    assert main(["export", "--checkpoint", str(f), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "--model" in capsys.readouterr().out


def test_output_over_the_input_is_refused(tmp_path, capsys):
    """`--to torch -o X` with X the --checkpoint (directly, via a symlink, or a run's own model file)."""
    f = save_model(create_model("cifar_resnet20", num_classes=10), tmp_path / "m.pt")
    before = f.read_bytes()
    (tmp_path / "alias.pt").symlink_to(f)
    for target in (f, tmp_path / "alias.pt", tmp_path / "." / "m.pt"):
        assert main(["export", "--checkpoint", str(f), "--to", "torch", "-o", str(target)]) == 2
        out = capsys.readouterr().out.replace("\n", " ")
        assert "-o must differ from the input file" in out and "--checkpoint" in out
    assert main(["export", "--model", str(f), "--to", "torch", "-o", str(f)]) == 2  # --model names a file too
    assert "is the --model" in capsys.readouterr().out.replace("\n", " ")
    assert f.read_bytes() == before
    run = tmp_path / "run"
    (run / "stages" / "0_train" / "models").mkdir(parents=True)
    student = save_model(create_model("cifar_resnet20", num_classes=10), run / "stages" / "0_train" / "models" / "student.pt")
    (run / "manifest.json").write_text(json.dumps({"records": [{"stage": "0_train", "model_files": {"student": str(student)}}]}))
    assert main(["export", str(run), "--to", "torch", "-o", str(student)]) == 2
    assert "-o must differ from the input file" in capsys.readouterr().out
