"""INT8 built for its target: x86 without VNNI gets 7-bit weights, which the static check proves safe on any
CPU that runs the test; an 8-bit build (VNNI, ARM) is proven unsafe there. The target goes into the metadata."""
from __future__ import annotations

import json

import pytest

from edgecv.backends.onnx_saturation import int8_saturation
from edgecv.cli import main
from edgecv.quantize import QuantizeSpec, quantize_onnx
from tests.bench.conftest import cifar_small  # noqa: F401  (shared fixture)


def test_non_vnni_build_is_proven_safe_and_an_8bit_build_unsafe(onnx20, calib, tmp_path):
    from edgecv.backends import Artifact

    avx2 = quantize_onnx(onnx20.path, tmp_path / "avx2.onnx", "int8", calib, target="x86-avx2")
    check = int8_saturation(avx2.artifact.path)
    assert check.safe and len(check.weights) >= 20, check.summary()
    assert avx2.report["weights"] == "u8 x s8, 7-bit weights (reduce_range)" and avx2.report["x86_without_vnni"] == "safe"
    again = Artifact.from_path(avx2.artifact.path)  # what `edgecv bench` reads back
    assert again.metadata.target == {"name": "x86-avx2", "arch": "x86_64", "features": ["avx2"]}
    assert again.metadata.extra["quantization"]["spec"]["reduce_range"] is True

    vnni = quantize_onnx(onnx20.path, tmp_path / "vnni.onnx", "int8", calib, target="x86-vnni")
    check = int8_saturation(vnni.artifact.path)
    assert not check.safe and check.unsafe, "8-bit per-channel weights have +-127 and same-signed neighbours"
    assert vnni.report["weights"] == "u8 x s8, 8-bit weights" and vnni.report["x86_without_vnni"] == "saturates"
    assert Artifact.from_path(vnni.artifact.path).metadata.target["name"] == "x86-vnni"


def test_uint8_weights_are_safe_too_and_8bit_cannot_be_forced_onto_avx2(onnx20, calib, tmp_path):
    u8 = quantize_onnx(onnx20.path, tmp_path / "u8.onnx", "int8", calib, spec=QuantizeSpec(weight_type="uint8"),
                       target="x86-avx2")
    check = int8_saturation(u8.artifact.path)
    assert check.safe and check.unsigned >= 20 and u8.report["weights"] == "u8 x u8 weights (U8U8)"
    with pytest.raises(ValueError, match=r"reduce_range: false gives 8-bit int8 weights, which saturate int16 on "
                                         r"target x86-avx2 \(x86_64 avx2\)"):
        quantize_onnx(onnx20.path, tmp_path / "bad.onnx", "int8", calib, spec=QuantizeSpec(reduce_range=False),
                      target="x86-avx2")
    assert not (tmp_path / "bad.onnx").exists()


def test_host_builds_follow_this_cpu(onnx20, calib, tmp_path):
    """Without a target the build is for this machine: 7-bit weights where its INT8 kernels saturate."""
    from edgecv.targets import host_target

    res = quantize_onnx(onnx20.path, tmp_path / "host.onnx", "int8", calib)
    assert res.artifact.metadata.target == host_target().to_dict() and res.report["target"] == "host"
    assert ("7-bit" in res.report["weights"]) is host_target().int8_saturates
    assert int8_saturation(res.artifact.path).safe or not host_target().int8_saturates


def test_export_and_quantize_take_a_target(onnx20, cifar_small, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "q.onnx"
    assert main(["quantize", str(onnx20.path), "--precision", "int8", "--calib-data", str(cifar_small),
                 "--target", "x86-avx2", "-o", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "7-bit weights (reduce_range) for target x86-avx2 (safe on x86 without VNNI)" in printed
    assert json.loads((tmp_path / "q.onnx.edgecv.json").read_text())["target"]["name"] == "x86-avx2"
    assert int8_saturation(out).safe

    ckpt = tmp_path / "r20.pt"
    from edgecv.models import save_model
    from tests.bench.conftest import CIFAR_CLASSES
    from tests.quantize.conftest import MEAN, STD

    import edgecv

    model = edgecv.create_model("cifar_resnet20", num_classes=10)
    save_model(model, ckpt, {"class_names": CIFAR_CLASSES,
                             "data_config": {"input_size": [3, 32, 32], "mean": MEAN, "std": STD}})
    exported = tmp_path / "e.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--to", "onnx", "--precision", "int8", "--calib-data",
                 str(cifar_small), "--target", "x86-avx2", "-o", str(exported)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "target x86-avx2 (x86_64 avx2)" in printed and "INT8 weights: u8 x s8, 7-bit weights" in printed
    assert json.loads((tmp_path / "e.onnx.edgecv.json").read_text())["target"]["name"] == "x86-avx2"
    assert int8_saturation(exported).safe


@pytest.mark.parametrize("command", ["export", "quantize"])
def test_an_unknown_target_is_refused_with_a_did_you_mean(command, tmp_path, capsys):
    args = ["export", "--model", "cifar_resnet8", "--to", "onnx"] if command == "export" else \
        ["quantize", str(tmp_path / "m.onnx"), "--precision", "int8"]
    with pytest.raises(SystemExit) as e:
        main([*args, "--target", "x86-avx", "-o", str(tmp_path / "o.onnx")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown target 'x86-avx' (did you mean 'x86-avx2'?)" in err


@pytest.mark.parametrize("seven_bit", [True, False])
def test_qat_exports_7bit_weights_for_x86_without_vnni(seven_bit, tmp_path):
    """QAT for a saturating target fake-quantizes weights to [-64, 63]: its Q/DQ export is proven safe."""
    import torch

    import edgecv
    from edgecv.quantize.qat import export_qat_onnx, prepare_qat

    torch.manual_seed(0)
    model = edgecv.create_model("cifar_resnet8", num_classes=10).eval()
    prepared = prepare_qat(model, torch.randn(4, 3, 16, 16), seven_bit_weights=seven_bit)
    with torch.no_grad():  # observers see a few batches (what fine-tuning would do)
        for _ in range(2):
            prepared(torch.randn(8, 3, 16, 16))
    out = export_qat_onnx(prepared, tmp_path / "qat.onnx", (1, 3, 16, 16))
    check = int8_saturation(out)
    assert check.weights and check.safe is seven_bit, check.summary()
