"""The ensemble teacher (models/ensemble.py): averaged member logits, one class count and mean/std, rebuilt from
its file, exported to ONNX like any model."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from edgecv.models import create_model, data_config, load_model_file as load_model, save_model
from edgecv.models.ensemble import Ensemble
from tests.conftest import need_shared

MEMBERS = [{"name": "cifar_resnet8"}, {"name": "cifar_resnet14"}]


def _ensemble(weights=None) -> Ensemble:
    torch.manual_seed(0)
    return create_model("ensemble", num_classes=10, members=MEMBERS, weights=weights).eval()


def _images(model, n: int = 16) -> torch.Tensor:
    """Real images (the embedded digits, at the ensemble's 32 px and mean/std), not noise."""
    val = _digits(tuple(data_config(model)["mean"]), tuple(data_config(model)["std"]))
    return torch.stack([val[i][0] for i in range(n)])


@functools.cache
def _digits(mean, std):
    from edgecv.data import DataSpec, build_data

    return build_data(DataSpec(source="digits", image_size=32), {"mean": mean, "std": std}).val


def _member_logits(model: Ensemble, x: torch.Tensor) -> torch.Tensor:
    return torch.stack([m(x) for m in model.members])


@torch.no_grad()
def test_logits_are_the_mean_of_the_members_on_real_images():
    model = _ensemble()
    x = _images(model)
    members = _member_logits(model, x)
    assert not torch.allclose(members[0], members[1])  # two different models, so the mean is not either one
    torch.testing.assert_close(model(x), members.mean(0), rtol=1e-6, atol=1e-6)
    assert model.num_classes == 10 and data_config(model) == data_config(model.members[0])


@torch.no_grad()
def test_weights_are_normalised_per_member():
    model = _ensemble(weights=[1, 3])
    x = _images(model, 4)
    members = _member_logits(model, x)
    torch.testing.assert_close(model(x), 0.25 * members[0] + 0.75 * members[1], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_pretrained_cifar_teachers_average_as_loaded_one_by_one():
    """The recipe's ensemble: the ResNet-20 and ResNet-56 checkpoints, each loaded as a member."""
    teachers = need_shared("teachers")
    files = {"cifar_resnet20": teachers / "resnet20-12fca82f.th", "cifar_resnet56": teachers / "resnet56-4bfd9763.th"}
    model = create_model("ensemble", num_classes=10,
                         members=[{"name": n, "checkpoint": str(f)} for n, f in files.items()]).eval()
    x = _images(model, 8)
    alone = torch.stack([create_model(n, num_classes=10, checkpoint=f).eval()(x) for n, f in files.items()])
    torch.testing.assert_close(model(x), alone.mean(0), rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    model = _ensemble(weights=[2, 1])
    path = save_model(model, tmp_path / "ensemble.pt", {"class_names": [str(i) for i in range(10)]})
    again, meta = load_model(path)
    assert isinstance(again, Ensemble) and [type(m).__name__ for m in again.members] == ["CifarResNet"] * 2
    assert meta["spec"]["name"] == "ensemble" and meta["spec"]["kwargs"]["weights"] == [2.0, 1.0]
    x = _images(model, 4)
    with torch.no_grad():
        assert torch.equal(again.eval()(x), model(x))
    # the whole ensemble's file also loads as its `checkpoint` (e.g. a run's saved teacher)
    fresh = create_model("ensemble", num_classes=10, members=MEMBERS, weights=[2, 1], checkpoint=path).eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_members_that_disagree_are_refused_by_name():
    with pytest.raises(ValueError, match=r"different class counts \(members.0 \(cifar_resnet8\): 10 classes, "
                                         r"members.1 \(cifar_resnet14\): 5 classes\)"):
        create_model("ensemble", members=[{"name": "cifar_resnet8", "num_classes": 10},
                                          {"name": "cifar_resnet14", "num_classes": 5}])
    with torch.device("meta"):  # only the data configs matter
        with pytest.raises(ValueError, match=r"different input normalisation \(members.0 \(cifar_resnet8\): mean "
                                             r"\[0.485, 0.456, 0.406\].*members.1 \(test_vit\): mean \[0.5, 0.5, 0.5\]"):
            create_model("ensemble", num_classes=10, members=[{"name": "cifar_resnet8"}, {"name": "test_vit"}])
    with pytest.raises(KeyError, match="ensemble members.1: unknown model 'cifar_resnet65'"):
        create_model("ensemble", members=[{"name": "cifar_resnet8"}, {"name": "cifar_resnet65"}])
    with pytest.raises(ValueError, match="needs members"):
        create_model("ensemble")
    with pytest.raises(ValueError, match="2 positive numbers"):
        create_model("ensemble", members=MEMBERS, weights=[1, 0])


def test_onnx_export_matches_torch(tmp_path):
    import onnxruntime as ort

    from edgecv.export import export_onnx

    model = _ensemble(weights=[1, 2])
    path = export_onnx(model, tmp_path / "ensemble.onnx", (1, 3, 32, 32))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _images(model, 5)
    out = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    assert out.shape == (5, 10)
    assert np.abs(out - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
