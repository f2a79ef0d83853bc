"""Models: timm by name, CIFAR ResNets, SqueezeNet, small-input variants, checkpoint I/O.

Checkpoint extensions are importable without torch; everything else loads on first use."""
from ..utils.lazy import lazy_getattr
from .extensions import CHECKPOINT_EXTENSIONS, CheckpointExtension, register_checkpoint_extension

_LAZY = {name: ("factory", name) for name in
         ("create_model", "data_config", "load_model", "load_weights", "model_name", "save_model")}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["CHECKPOINT_EXTENSIONS", "CheckpointExtension", "register_checkpoint_extension", *_LAZY]
