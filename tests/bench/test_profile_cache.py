"""A run benchmarks each model on several backends: its MACs are traced once per model, shape and
parameter count (a model pruned in place is traced again)."""
from __future__ import annotations

import torch

from edgecv.backends import Artifact, ArtifactMetadata
from edgecv.bench.harness import model_profile


def test_macs_are_counted_once_per_model(monkeypatch, tmp_path):
    import edgecv.utils.profile as profile

    calls = []
    real = profile.count_macs
    monkeypatch.setattr(profile, "count_macs", lambda m, shape: calls.append(shape) or real(m, shape))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
    model(torch.zeros(1, 3, 8, 8))
    art = Artifact(tmp_path / "m.onnx", "onnxruntime", ArtifactMetadata(input_shape=["batch", 3, 8, 8]))
    first = model_profile(art, model)
    assert model_profile(art, model) == first and len(calls) == 1 and first["macs"] > 0
    with torch.no_grad():  # pruned in place: fewer parameters, traced again
        model[0] = torch.nn.Conv2d(3, 4, 3)
        model[2] = torch.nn.Linear(4 * 36, 10)
    again = model_profile(art, model)
    assert len(calls) == 2 and again["macs"] < first["macs"] and again["params"] < first["params"]
