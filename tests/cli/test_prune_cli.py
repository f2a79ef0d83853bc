"""`edgecv prune` end to end as the issue writes it: real CIFAR images, a real teacher, KD fine-tuning in
bf16 + channels-last, then `edgecv export --checkpoint FILE` with no model name."""
import os
import shutil

import pytest
import torch

from edgecv.cli import main
from edgecv.models import create_model, load_model_file as load_model
from edgecv.utils.profile import count_macs

from tests.conftest import need_shared


def _small_folder(dst, per_class: int):
    """A few real CIFAR-10 PNGs per class in ImageFolder layout (train/ and val/)."""
    for split in ("train", "val"):
        src = need_shared("cifar10", split)
        for cls in sorted(os.listdir(src)):
            (dst / split / cls).mkdir(parents=True)
            for f in sorted(os.listdir(src / cls))[:per_class]:
                shutil.copy(src / cls / f, dst / split / cls / f)
    return dst


def test_prune_with_kd_finetune_then_export_by_file(tmp_path):
    teacher_ckpt = need_shared("teachers", "resnet20-12fca82f.th")
    data = _small_folder(tmp_path / "data", per_class=6)
    out = tmp_path / "pruned.pt"
    rc = main(["prune", "--model", "cifar_resnet20", "--checkpoint", str(teacher_ckpt), "--macs-ratio", "0.6",
               "--steps", "2", "--importance", "taylor", "--finetune-data", str(data), "--epochs", "1",
               "--batch-size", "20", "--teacher", "cifar_resnet20", "--teacher-checkpoint", str(teacher_ckpt),
               "--amp", "bf16", "--channels-last", "--log-dir", str(tmp_path / "log"), "-o", str(out)])
    assert rc == 0 and out.is_file()
    model, _ = load_model(out)
    base = count_macs(create_model("cifar_resnet20"), (1, 3, 32, 32))
    assert count_macs(model, (1, 3, 32, 32)) <= 0.6 * base
    assert (tmp_path / "log" / "prune_steps.md").read_text().count("\n") == 2 + 3  # header + steps 0, 1, 2
    onnx_path = tmp_path / "pruned.onnx"
    assert main(["export", "--checkpoint", str(out), "--to", "onnx", "-o", str(onnx_path)]) == 0
    import onnxruntime as ort

    x = torch.randn(2, 3, 32, 32)
    got = ort.InferenceSession(str(onnx_path)).run(None, {"input": x.numpy()})[0]
    assert torch.allclose(torch.from_numpy(got), model.eval()(x), atol=1e-4)


def test_output_over_the_input_checkpoint_is_refused(tmp_path, capsys):
    from edgecv.models import save_model

    f = save_model(create_model("cifar_resnet20", num_classes=10), tmp_path / "m.pt")
    before = f.read_bytes()
    (tmp_path / "alias.pt").symlink_to(f)
    for target in (f, tmp_path / "alias.pt"):
        assert main(["prune", "--checkpoint", str(f), "--macs-ratio", "0.5", "-o", str(target)]) == 2
        assert "-o must differ from the input file" in capsys.readouterr().out
    assert main(["prune", "--model", "cifar_resnet20", "--teacher-checkpoint", str(f), "--macs-ratio", "0.5",
                 "-o", str(tmp_path / "alias.pt")]) == 2
    assert "--teacher-checkpoint" in capsys.readouterr().out
    assert f.read_bytes() == before


def test_missing_onnx_extra_fails_before_any_pruning(tmp_path, capsys, monkeypatch):
    """Without onnx/onnxruntime the latency step cannot run: say so first, with the extra, and prune nothing."""
    import importlib.util
    import time

    import edgecv.prune.iterative as iterative

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxruntime", "onnxslim") else real(name, *a))
    called = []
    monkeypatch.setattr(iterative, "prune_model", lambda *a, **k: called.append(1))
    out = tmp_path / "p.pt"
    t0 = time.perf_counter()
    assert main(["prune", "--model", "cifar_resnet20", "--macs-ratio", "0.5", "-o", str(out)]) == 2
    printed = capsys.readouterr().out.replace("\n", " ")
    assert time.perf_counter() - t0 < 10 and not called and not out.exists()
    assert "--backend onnxruntime is not available here" in printed
    assert "pip install 'edgecv[onnx]'" in printed  # printed whole: rich markup must not eat [onnx]
    assert main(["prune", "--model", "cifar_resnet20", "--latency-ms", "1", "-o", str(out)]) == 2
    assert "the --latency-ms 1.0 target" in capsys.readouterr().out


def test_threads_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["prune", "--model", "cifar_resnet20", "--macs-ratio", "0.5", "--threads", "0", "-o", str(tmp_path / "p.pt")])
    assert e.value.code == 2 and "argument --threads: must be >= 1, got 0" in capsys.readouterr().err
