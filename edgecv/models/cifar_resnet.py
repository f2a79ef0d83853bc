"""CIFAR ResNet-8/14/20/32/44/56 (He et al. 2016, option-A shortcuts), registered in timm's registry.

ResNet-8 and -14 (one and two blocks per stage) are the small students of the family.

Layer names match the widely used `akamaster/pytorch_resnet_cifar10` checkpoints, so those load with
strict=True once their `module.` prefix is stripped.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PadShortcut(nn.Module):
    """Option A: subsample by 2 and zero-pad channels; no parameters."""

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = (
            PadShortcut(planes // 4) if stride != 1 or in_planes != planes else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10, in_chans: int = 3, **_):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(in_chans, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes, layers = 16, []
        for i, width in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(planes, width, stride))
                planes = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.linear(x)

    def get_classifier(self) -> nn.Module:
        return self.linear


def _cfg(depth: int) -> dict:
    return {
        "architecture": f"cifar_resnet{depth}",
        "input_size": (3, 32, 32),
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "num_classes": 10,
        "interpolation": "bilinear",
        "crop_pct": 1.0,
        "crop_mode": "center",
        "first_conv": "conv1",
        "classifier": "linear",
    }


def _build(depth: int, pretrained: bool, kwargs: dict) -> CifarResNet:
    if pretrained:
        raise ValueError(
            f"cifar_resnet{depth} has no hub weights; pass a local `checkpoint:` instead "
            "(e.g. ../shared/data/teachers/resnet56-4bfd9763.th)"
        )
    kwargs.pop("pretrained_cfg", None)
    kwargs.pop("pretrained_cfg_overlay", None)
    model = CifarResNet(depth, **kwargs)
    model.pretrained_cfg = _cfg(depth)
    model.default_cfg = model.pretrained_cfg
    return model


@register_model
def cifar_resnet8(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(8, pretrained, kwargs)


@register_model
def cifar_resnet14(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(14, pretrained, kwargs)


@register_model
def cifar_resnet20(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(20, pretrained, kwargs)


@register_model
def cifar_resnet32(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(32, pretrained, kwargs)


@register_model
def cifar_resnet44(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(44, pretrained, kwargs)


@register_model
def cifar_resnet56(pretrained: bool = False, **kwargs) -> CifarResNet:
    return _build(56, pretrained, kwargs)
