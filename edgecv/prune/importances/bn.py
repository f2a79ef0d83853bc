"""bn: the BatchNorm scale |gamma| of each channel (network slimming, Liu et al. 2017)."""
from __future__ import annotations

from ..importance import IMPORTANCES, Importance, register_importance


@register_importance
class BNScale(Importance):
    name = "bn"
    summary = "BatchNorm scale |gamma|"

    def criterion(self):
        from ..history import require_torch_pruning  # torch-pruning (and torch) only when pruning

        return require_torch_pruning().importance.BNScaleImportance()

    def check(self, model, model_name: str) -> None:
        """BN-scale importance scores nothing in a model without BatchNorm; say so instead of pruning nothing."""
        import torch.nn as nn

        if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            others = ", ".join(n for n in IMPORTANCES.names() if n != self.name)
            raise ValueError(f"importance '{self.name}' needs BatchNorm layers, and '{model_name}' has none; use {others}")
