"""Knowledge distillation: losses registered by name (kd, hint: LOSS_MODULES), a Distiller training task."""
from .distiller import Distiller, KDTeacher, Renormalize, build_distiller, renormalize_for
from .registry import LOSSES, DistillBatch, DistillLoss

__all__ = ["LOSSES", "DistillBatch", "DistillLoss", "Distiller", "KDTeacher", "Renormalize", "build_distiller", "renormalize_for"]
