"""Pipeline stages. Importing this package registers every stage listed here, and loads what the
layers below the stages add onto lower layers (the quantize layer's ONNX builders, the prune
layer's checkpoint extension), so every stage can rely on them."""
from .. import prune as _prune  # noqa: F401  (registers the `pruning` checkpoint extension)
from .. import quantize as _quantize  # noqa: F401  (attaches ONNX Runtime int8/fp16 builders)
from .registry import STAGES, StageConfig, StageDef, register_stage

STAGE_MODULES = ["train", "distill", "evaluate", "export", "benchmark", "prune", "quantize"]

for _name in STAGE_MODULES:
    __import__(f"{__name__}.{_name}")

__all__ = ["STAGES", "StageConfig", "StageDef", "register_stage"]
