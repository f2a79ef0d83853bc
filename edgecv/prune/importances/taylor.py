"""taylor: |w * dL/dw| summed over a group (first-order Taylor, Molchanov et al. 2019), from the gradients
of a few labelled batches before each step."""
from __future__ import annotations

from ..importance import IMPORTANCES, Importance, register_importance


@register_importance
class Taylor(Importance):
    name = "taylor"
    summary = "first-order Taylor |w * dL/dw| (needs labelled data)"
    needs_gradients = True

    def criterion(self):
        from ..history import require_torch_pruning  # torch-pruning (and torch) only when pruning

        return require_torch_pruning().importance.GroupTaylorImportance()

    def without_gradients(self) -> Importance:
        return IMPORTANCES.get("l2")
