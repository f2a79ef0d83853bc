"""`import edgecv` exports the application layer: load_model, open_artifact, Predictor and the workflows,
each taking typed options or their fields as keywords."""
from __future__ import annotations

import pytest

import edgecv


def test_the_front_door_names():
    from edgecv import app

    for name in ("load_model", "open_artifact", "Predictor", "export", "quantize", "prune", "benchmark", "run"):
        assert getattr(edgecv, name) is getattr(app, name) or callable(getattr(edgecv, name)), name
    assert edgecv.load_model is app.load_model and edgecv.Predictor is app.Predictor
    assert edgecv.__version__ and edgecv.__version__ != "dev"


def test_workflows_named_like_subpackages_stay_callable_after_the_subpackage_is_imported():
    """edgecv.prune calls app.prune; the edgecv.prune package's names are still reachable through it."""
    import edgecv.prune.iterative as iterative  # binds the subpackage on edgecv: the workflow must stay
    from edgecv import prune

    assert callable(edgecv.prune) and prune is not iterative and edgecv.prune.PruneSpec.__name__ == "PruneSpec"
    assert edgecv.prune.iterative is iterative and callable(edgecv.quantize) and callable(edgecv.export)
    with pytest.raises(ValueError, match="exactly one pruning target"):
        edgecv.prune("cifar_resnet8")


def test_unknown_option_names_are_refused(tmp_path):
    with pytest.raises(TypeError, match="export\\(\\) got unknown option\\(s\\) precison.*ExportOptions has: to, precision"):
        edgecv.export("cifar_resnet8", tmp_path / "m.onnx", precison="int8")
    with pytest.raises(ValueError, match="writes '.onnx' files"):  # checked before the model loads
        edgecv.export("no_such_model", tmp_path / "m.tflite")
