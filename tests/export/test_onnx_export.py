"""ONNX export: opset >= 17, dynamic batch, slimmed, checker-clean, numerically equal to PyTorch."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from edgecv.backends import resolve_backend
from edgecv.backends.build import build_artifact
from edgecv.export import ExportError, export_onnx
from edgecv.models import create_model


def _ort(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name,kwargs,size", [
    ("cifar_resnet20", {}, 32),
    ("mobilenetv2_050", {"small_input": True}, 32),
    ("mobilenetv3_small_050", {"small_input": True}, 32),
    ("squeezenet1_1", {"small_input": True}, 32),
])
def test_export_matches_torch_at_any_batch(name, kwargs, size, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, **kwargs).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx", (1, 3, size, size), metadata={"source_model": name})
    proto = onnx.load(str(path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert json.loads({p.key: p.value for p in proto.metadata_props}["edgecv"])["source_model"] == name
    sess = _ort(path)
    for batch in (1, 5):
        x = torch.randn(batch, 3, size, size)
        out = sess.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x).numpy()
        assert out.shape == (batch, 10)
        assert np.abs(out - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max())
    assert model.training is False


def test_pruned_model_exports(tmp_path):
    tp = pytest.importorskip("torch_pruning")
    torch.manual_seed(0)
    model = create_model("mobilenetv2_050", num_classes=10, small_input=True).eval()
    x = torch.randn(1, 3, 32, 32)
    before = sum(p.numel() for p in model.parameters())
    pruner = tp.pruner.MagnitudePruner(model, x, importance=tp.importance.MagnitudeImportance(p=1),
                                       pruning_ratio=0.5, ignored_layers=[model.get_classifier()])
    pruner.step()
    assert sum(p.numel() for p in model.parameters()) < 0.8 * before
    path = export_onnx(model, tmp_path / "pruned.onnx", (1, 3, 32, 32))
    out = _ort(path).run(None, {"input": torch.randn(3, 3, 32, 32).numpy()})[0]
    assert out.shape == (3, 10)


class _FFTNet(torch.nn.Module):
    """Uses an op the ONNX exporter does not support (aten::fft_fft2)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.fft.fft2(self.conv(x)).real.flatten(1)[:, :10]


def test_unsupported_op_is_a_clear_error_and_leaves_no_file(tmp_path, capfd):
    with pytest.raises(ExportError, match="fft_fft2"):
        export_onnx(_FFTNet(), tmp_path / "fft.onnx", (1, 3, 8, 8))
    assert not any(tmp_path.iterdir())  # atomic: no partial file
    assert "Torch IR graph" not in capfd.readouterr().err  # the exporter's graph dump is kept from the user


def test_unsupported_op_becomes_an_export_failed_row(tmp_path):
    res = build_artifact("onnx", _FFTNet(), torch.zeros(1, 3, 8, 8), tmp_path)
    assert res.status == "export_failed" and "fft_fft2" in res.error and res.artifact is None
    assert res.record("fft")["status"] == "export_failed"


def test_old_opset_and_bad_shape_are_rejected(tmp_path):
    model = create_model("cifar_resnet20", num_classes=10)
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path / "a.onnx", (1, 3, 32, 32), opset=13)
    with pytest.raises(ValueError, match="NCHW"):
        export_onnx(model, tmp_path / "a.onnx", (1, 32, 32))


def test_format_names_resolve_to_backends():
    assert resolve_backend("onnx") == "onnxruntime"
    assert resolve_backend("onnxruntime") == "onnxruntime"
    with pytest.raises(KeyError, match="unknown backend"):
        resolve_backend("onxx")


def test_build_artifact_records_the_runs_preprocessing(tmp_path):
    from edgecv.backends import Artifact

    model = create_model("cifar_resnet20", num_classes=3)
    pre = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "class_names": ["a", "b", "c"]}
    res = build_artifact("onnx", model, torch.zeros(1, 3, 32, 32), tmp_path, preprocess=pre)
    assert res.status == "ok"
    meta = Artifact.from_path(res.artifact.path).metadata
    assert meta.mean == pre["mean"] and meta.std == pre["std"] and meta.class_names == pre["class_names"]
    assert not hasattr(model, "edgecv_preprocess")  # the model is left as it was
