"""MobileNetV2, MobileNetV3 and SqueezeNet students for CIFAR-sized (32 px) inputs, registered in
timm's registry by name: `cifar_mobilenetv2_050/075/100`, `cifar_mobilenetv3_small_075/100`,
`cifar_mobilenetv3_large_075`, `cifar_squeezenet1_1`.

ImageNet networks downsample 32x (16x for SqueezeNet); on a 32 px image that leaves a 1x1 map, and
`small_input: true` (stem at stride 1) still leaves 2x2. These variants downsample 8x, the usual
CIFAR adaptation (as the CIFAR ResNets do): the stem and the first strided stage run at stride 1, so
the last stage sees 4x4. The head (the 1x1 conv before pooling) is scaled with the width instead of
staying at ImageNet's 1280/1024 channels: at 10 classes most of those parameters are dead weight.

    width   MobileNetV2 head   MobileNetV3 head
    0.50    640                -
    0.75    960                768 (small), 960 (large)
    1.00    1280               1024 (small)

Everything else (blocks, activations, SE) is timm's, so the weights' names and the pruning and
quantization paths are those of the ImageNet models.
"""
from __future__ import annotations

import torch.nn as nn
from timm.models import register_model

from .cifar_resnet import IMAGENET_MEAN, IMAGENET_STD


def _cfg(name: str, classifier: str, first_conv: str) -> dict:
    return {"architecture": name, "input_size": (3, 32, 32), "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
            "num_classes": 10, "interpolation": "bilinear", "crop_pct": 1.0, "crop_mode": "center",
            "first_conv": first_conv, "classifier": classifier}


def _unstride(conv: nn.Module) -> None:
    """A strided conv run at stride 1 (its padding keeps the spatial size)."""
    conv.stride = (1, 1)


def _timm_cifar(base: str, first_strided_stage: int, head: int, pretrained: bool, kwargs: dict) -> nn.Module:
    """`cifar_<base>`: timm's `base` with the stem and `blocks[first_strided_stage]` at stride 1 and a
    `head`-channel head."""
    import timm

    name = f"cifar_{base}"

    if pretrained:
        raise ValueError(f"{name} has no pretrained weights (it is a CIFAR-shaped variant of {base}); "
                         f"use {base} with small_input: true for ImageNet weights")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "features_only"):
        kwargs.pop(key, None)
    kwargs.setdefault("num_classes", 10)
    model = timm.create_model(base, pretrained=False, **kwargs)
    _unstride(model.conv_stem)
    _unstride(model.blocks[first_strided_stage][0].conv_dw)
    _resize_head(model, head)
    model.pretrained_cfg = _cfg(name, "classifier", "conv_stem")
    model.default_cfg = model.pretrained_cfg
    return model


def _resize_head(model: nn.Module, width: int) -> None:
    """Swap timm's head conv (and its norm) and the classifier for `width` channels, initialised as
    timm initialises them (He normal by fan-out; classifier uniform by fan-out)."""
    import math

    old = model.conv_head
    model.conv_head = nn.Conv2d(old.in_channels, width, 1, bias=old.bias is not None)
    nn.init.kaiming_normal_(model.conv_head.weight, mode="fan_out", nonlinearity="relu")
    if model.conv_head.bias is not None:
        nn.init.zeros_(model.conv_head.bias)
    norm = getattr(model, "bn2", None)  # MobileNetV2 (timm EfficientNet): BatchNormAct2d after the head conv
    if norm is not None and not isinstance(norm, nn.Identity):
        from timm.layers import BatchNormAct2d

        model.bn2 = BatchNormAct2d(width, act_layer=type(norm.act))
    num_classes = model.classifier.out_features
    model.classifier = nn.Linear(width, num_classes)
    bound = 1.0 / math.sqrt(num_classes)
    nn.init.uniform_(model.classifier.weight, -bound, bound)
    nn.init.zeros_(model.classifier.bias)
    model.num_features = model.head_hidden_size = width


@register_model
def cifar_mobilenetv2_050(pretrained: bool = False, **kwargs):
    return _timm_cifar("mobilenetv2_050", 1, 640, pretrained, kwargs)


@register_model
def cifar_mobilenetv2_075(pretrained: bool = False, **kwargs):
    return _timm_cifar("mobilenetv2_075", 1, 960, pretrained, kwargs)


@register_model
def cifar_mobilenetv2_100(pretrained: bool = False, **kwargs):
    return _timm_cifar("mobilenetv2_100", 1, 1280, pretrained, kwargs)


@register_model
def cifar_mobilenetv3_small_075(pretrained: bool = False, **kwargs):
    return _timm_cifar("mobilenetv3_small_075", 0, 768, pretrained, kwargs)


@register_model
def cifar_mobilenetv3_small_100(pretrained: bool = False, **kwargs):
    return _timm_cifar("mobilenetv3_small_100", 0, 1024, pretrained, kwargs)


@register_model
def cifar_mobilenetv3_large_075(pretrained: bool = False, **kwargs):
    # the large model's first stage runs at stride 1 already; its first strided stage is blocks[1]
    return _timm_cifar("mobilenetv3_large_075", 1, 960, pretrained, kwargs)


@register_model
def cifar_squeezenet1_1(pretrained: bool = False, num_classes: int = 10, in_chans: int = 3, **kwargs):
    """torchvision's SqueezeNet 1.1 with its first conv at stride 1 (3x3, padding 1) and its three
    max-pools kept: 8x downsampling, a 4x4 last map at 32 px (the plain small_input adaptation drops
    the first pool too, which quadruples the MACs for no accuracy a 32 px image can use)."""
    import torchvision

    if pretrained:
        raise ValueError("cifar_squeezenet1_1 has no pretrained weights; use squeezenet1_1 with small_input: true")
    model = torchvision.models.squeezenet1_1(weights=None, num_classes=num_classes)
    first = model.features[0]
    model.features[0] = nn.Conv2d(in_chans, first.out_channels, 3, 1, 1)
    # ceil-mode pools on a 32 px map: 32 -> 16 -> 8 -> 4
    model.num_classes = num_classes
    model.pretrained_cfg = _cfg("cifar_squeezenet1_1", "classifier.1", "features.0")
    model.default_cfg = model.pretrained_cfg
    return model
