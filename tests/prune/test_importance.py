"""Pruning importance is a registered strategy: the spec, the pruner and the CLI ask the registry, and a
new importance is one file in edgecv/prune/importances/."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from pydantic import ValidationError

from edgecv.prune.importance import IMPORTANCES, importance
from edgecv.prune.spec import PruneSpec
from tests.test_layers import ROOT


def test_the_built_in_importances_are_registered():
    assert {"l1", "l2", "bn", "taylor"} <= set(IMPORTANCES.names())
    assert importance("taylor").needs_gradients and importance("taylor").without_gradients() is importance("l2")
    with pytest.raises(ValidationError, match="unknown importance 'tayler' \\(did you mean 'taylor'\\?\\); known: bn, l1, l2, taylor"):
        PruneSpec(macs_ratio=0.5, importance="tayler")


def test_a_new_importance_is_one_file(tmp_path):
    """Drop one file into importances/ of a copy of the package: the spec takes it and the pruner prunes with it."""
    shutil.copytree(ROOT / "edgecv", tmp_path / "edgecv", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "edgecv" / "prune" / "importances" / "random_scores.py").write_text(
        '"""random: random channel scores (a baseline)."""\n'
        "from ..importance import Importance, register_importance\n\n\n"
        "@register_importance\n"
        "class RandomScores(Importance):\n"
        '    name = "random"\n\n'
        "    def criterion(self):\n"
        "        from ..history import require_torch_pruning\n\n"
        "        return require_torch_pruning().importance.RandomImportance()\n")
    code = ("import torch\n"
            "from edgecv.models import create_model\n"
            "from edgecv.prune.pruner import ChannelPruner\n"
            "from edgecv.prune.spec import PruneSpec\n"
            "m = create_model('cifar_resnet8', num_classes=10)\n"
            "ChannelPruner(m, torch.randn(1, 3, 32, 32), PruneSpec(macs_ratio=0.5, importance='random')).prune_to_ratio(0.5)\n"
            "print(m.layer1[0].conv1.out_channels)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert int(res.stdout.split()[-1]) < 16  # pruned with the new criterion
