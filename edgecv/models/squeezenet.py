"""torchvision SqueezeNet 1.0/1.1 registered in timm's registry, so every model has one entry point."""
from __future__ import annotations

import torch.nn as nn
from timm.models import register_model

from .cifar_resnet import IMAGENET_MEAN, IMAGENET_STD


def _cfg(name: str) -> dict:
    return {
        "architecture": name,
        "input_size": (3, 224, 224),
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "num_classes": 1000,
        "interpolation": "bilinear",
        "crop_pct": 0.875,
        "crop_mode": "center",
        "first_conv": "features.0",
        "classifier": "classifier.1",
    }


def _build(name: str, pretrained: bool, num_classes: int = 1000, in_chans: int = 3, **kwargs):
    import torchvision

    kwargs.pop("pretrained_cfg", None)
    kwargs.pop("pretrained_cfg_overlay", None)
    builder = getattr(torchvision.models, name)
    # Hub weights are for 1000 classes; build that, then swap the final conv for num_classes.
    model = builder(weights="DEFAULT" if pretrained else None, **({} if pretrained else {"num_classes": num_classes}))
    if pretrained and num_classes != 1000:
        model.classifier[1] = nn.Conv2d(512, num_classes, kernel_size=1)
    model.num_classes = num_classes
    if in_chans != 3:
        first = model.features[0]
        model.features[0] = nn.Conv2d(in_chans, first.out_channels, first.kernel_size, first.stride)
    model.pretrained_cfg = _cfg(name)
    model.default_cfg = model.pretrained_cfg
    return model


@register_model
def squeezenet1_0(pretrained: bool = False, **kwargs):
    return _build("squeezenet1_0", pretrained, **kwargs)


@register_model
def squeezenet1_1(pretrained: bool = False, **kwargs):
    return _build("squeezenet1_1", pretrained, **kwargs)
