"""Models: timm by name, CIFAR ResNets, SqueezeNet, small-input variants, checkpoint I/O."""
from .factory import create_model, data_config, load_model, load_weights, save_model

__all__ = ["create_model", "data_config", "load_model", "load_weights", "save_model"]
