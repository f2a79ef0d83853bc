"""Models: timm by name, CIFAR ResNets, SqueezeNet, small-input variants, checkpoint I/O.

Checkpoint extensions are importable without torch; everything else loads on first use."""
from ..utils.lazy import lazy_getattr
from .extensions import CHECKPOINT_EXTENSIONS, CheckpointExtension, register_checkpoint_extension

_LAZY = {
    **{name: ("factory", name) for name in ("create_model", "load_model_file", "load_weights", "save_model",
                                            "load_model_families", "model_exists", "model_names")},
    **{name: ("describe", name) for name in ("data_config", "model_name")},
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["CHECKPOINT_EXTENSIONS", "CheckpointExtension", "register_checkpoint_extension", *_LAZY]
