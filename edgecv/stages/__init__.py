"""Pipeline stages, one file each, registered by one line in STAGE_MODULES (registry.py) and loaded
on the registry's first look-up. What the layers below add onto lower ones (quantize's ONNX builders,
prune's checkpoint extension) is loaded by edgecv.plugins.load_plugins(), which the pipeline calls."""
from .registry import STAGE_MODULES, STAGES, StageConfig, StageDef, register_stage

__all__ = ["STAGES", "STAGE_MODULES", "StageConfig", "StageDef", "register_stage"]
