"""l1 / l2: the magnitude of a group's weights (Li et al. 2017), the default criterion."""
from __future__ import annotations

from ..importance import Importance, register_importance


@register_importance
class L1(Importance):
    name = "l1"
    summary = "group weight magnitude, L1 norm"

    def criterion(self):
        from ..history import require_torch_pruning  # torch-pruning (and torch) only when pruning

        return require_torch_pruning().importance.GroupMagnitudeImportance(p=1)


@register_importance
class L2(Importance):
    name = "l2"
    summary = "group weight magnitude, L2 norm"

    def criterion(self):
        from ..history import require_torch_pruning  # torch-pruning (and torch) only when pruning

        return require_torch_pruning().importance.GroupMagnitudeImportance(p=2)
