"""Adapt ImageNet-shaped students to small (e.g. 32 px) inputs so they do not downsample to nothing.

The usual CIFAR adaptation: keep the stem at stride 1 (and drop SqueezeNet's first max-pool), which
removes a 4x (SqueezeNet) or 2x (MobileNet, ResNet stem) reduction; everything else is unchanged.
"""
from __future__ import annotations

import torch.nn as nn


def adapt_to_small_input(model: nn.Module, name: str) -> nn.Module:
    if name.startswith("cifar_resnet"):
        return model  # already built for 32 px
    if name.startswith("squeezenet"):
        first = model.features[0]
        model.features[0] = nn.Conv2d(first.in_channels, first.out_channels, 3, 1, 1)
        model.features[2] = nn.Identity()
        return model
    stem = getattr(model, "conv_stem", None) or getattr(model, "conv1", None)
    if isinstance(stem, nn.Conv2d):
        stem.stride = (1, 1)
        # timm ResNets follow the stem with a stride-2 max-pool; CIFAR variants drop it.
        if isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
            model.maxpool = nn.Identity()
        return model
    raise ValueError(
        f"small_input is not supported for '{name}': no `conv_stem`/`conv1` Conv2d found; "
        "set small_input: false and use a larger image_size"
    )
