"""Knowledge distillation: losses registered by name (kd, hint), a Distiller training task."""
from . import hint as _hint  # noqa: F401  (registers "hint")
from . import kd as _kd  # noqa: F401  (registers "kd")
from .distiller import Distiller, Renormalize, build_distiller, renormalize_for
from .registry import LOSSES, DistillBatch, DistillLoss

__all__ = ["LOSSES", "DistillBatch", "DistillLoss", "Distiller", "Renormalize", "build_distiller", "renormalize_for"]
