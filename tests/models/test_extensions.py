"""Checkpoint extensions: a higher layer stores state in an edgecv model file and replays it on load,
without the models layer importing it (the way pruning rebuilds pruned shapes)."""
from __future__ import annotations

import pytest
import torch.nn as nn

from edgecv.models import CHECKPOINT_EXTENSIONS, CheckpointExtension, create_model, load_model_file as load_model, save_model


def _narrow_head(model, value):
    model.linear = nn.Linear(64, value["outputs"])  # what the stored state needs before the weights load
    return model


EXT = CheckpointExtension("test_head", lambda m: getattr(m, "test_head", None), _narrow_head)


def test_registered_extension_is_saved_and_replayed(tmp_path):
    with CHECKPOINT_EXTENSIONS.temporarily("test_head", EXT):
        model = create_model("cifar_resnet8", num_classes=10)
        model.linear = nn.Linear(64, 3)
        model.test_head = {"outputs": 3}
        path = save_model(model, tmp_path / "m.pt")
        back, meta = load_model(path)
    assert meta["extensions"] == ["test_head"] and back.linear.out_features == 3


def test_a_file_needing_a_missing_extension_is_refused_by_name(tmp_path):
    with CHECKPOINT_EXTENSIONS.temporarily("test_head", EXT):
        model = create_model("cifar_resnet8", num_classes=10)
        model.test_head = {"outputs": 10}
        path = save_model(model, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="needs the 'test_head' checkpoint extension"):
        load_model(path)


def test_pruning_is_registered_by_the_prune_layer():
    import edgecv.prune.checkpoint  # noqa: F401

    assert "pruning" in CHECKPOINT_EXTENSIONS
