"""Rewrites that make a layer prunable by torch-pruning without changing what the model computes.

CIFAR ResNets' option-A shortcut subsamples and zero-pads channels (`F.pad` on the channel axis);
the dependency graph would treat that pad as element-wise and couple a 16-channel tensor with a
32-channel one. We replace it by an equivalent frozen 1x1 stride-2 convolution whose weight is the
0/1 channel-placement matrix: the output is bit-identical, torch-pruning prunes both sides like any
conv, and the cost is tiny (C_in x C_out weights, ~0.2 % of ResNet-56's MACs). Rewrites are recorded
in the pruning history so `replay` repeats them on a freshly built model.
"""
from __future__ import annotations

import torch
import torch.nn as nn


class ChannelPlacement(nn.Conv2d):
    """Frozen 1x1 stride-2 conv equal to `F.pad(x[:, :, ::2, ::2], channels: pad, pad)`."""

    def __init__(self, in_channels: int, out_channels: int, pad: int):
        super().__init__(in_channels, out_channels, 1, stride=2, bias=False)
        with torch.no_grad():
            self.weight.zero_()
            for i in range(in_channels):
                self.weight[pad + i, i, 0, 0] = 1.0
        self.weight.requires_grad_(False)


def _option_a_blocks(model: nn.Module):
    from ..models.cifar_resnet import BasicBlock, PadShortcut

    for name, m in model.named_modules():
        if isinstance(m, BasicBlock) and isinstance(m.shortcut, PadShortcut):
            yield name, m


def _rewrite_option_a(block: nn.Module) -> None:
    cin, cout, pad = block.conv1.in_channels, block.conv2.out_channels, block.shortcut.pad
    if cin + 2 * pad != cout:
        raise ValueError(f"option-A shortcut pads {cin} channels by {pad} on each side but the block outputs {cout}")
    block.shortcut = ChannelPlacement(cin, cout, pad).to(block.conv1.weight.device)


def apply_rewrites(model: nn.Module) -> list[dict]:
    """Rewrite every layer torch-pruning cannot follow; returns what was done (for the history)."""
    done = []
    for name, block in list(_option_a_blocks(model)):
        _rewrite_option_a(block)
        done.append({"kind": "option_a_shortcut", "module": name})
    return done


def replay_rewrites(model: nn.Module, rewrites: list[dict]) -> None:
    """Repeat recorded rewrites on a fresh model; a module that is not there is a mismatch."""
    blocks = dict(_option_a_blocks(model))
    for r in rewrites:
        if r.get("kind") != "option_a_shortcut":
            raise ValueError(f"unknown rewrite '{r.get('kind')}' in the pruning history (made by a newer edgecv?)")
        if r["module"] not in blocks:
            raise ValueError(f"pruning history rewrites '{r['module']}', which is not an option-A residual block in this model")
        _rewrite_option_a(blocks[r["module"]])


def refreeze(model: nn.Module) -> None:
    """torch-pruning re-creates pruned weights as trainable Parameters; placements must stay fixed."""
    for m in model.modules():
        if isinstance(m, ChannelPlacement):
            m.weight.requires_grad_(False)
