"""Pipeline stages. Importing this package registers every stage listed here."""
from .registry import STAGES, StageDef, register_stage

STAGE_MODULES = ["train", "distill", "evaluate", "export", "benchmark", "prune", "quantize"]

for _name in STAGE_MODULES:
    __import__(f"{__name__}.{_name}")

__all__ = ["STAGES", "StageDef", "register_stage"]
