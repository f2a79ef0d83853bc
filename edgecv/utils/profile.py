"""Model size counters: parameters and multiply-accumulates (MACs).

MACs come from PyTorch's own FLOP counter (torch.utils.flop_counter), which counts a fused
multiply-add as 2 FLOPs; MACs = FLOPs / 2.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence


@contextmanager
def eval_mode(model) -> Iterator:
    """`model` in eval mode for the block (export, tracing, counting), its train/eval mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def count_params(model) -> int:
    """Number of parameters (trainable or not); shared tensors are counted once."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return int(total)


def count_macs(model, input_shape: Sequence[int] = (1, 3, 224, 224)) -> int:
    """MACs of one forward pass on a zero batch of `input_shape` (NCHW), in eval mode.

    The model's train/eval mode is restored afterwards; the batch is created on the model's device.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    x = torch.zeros(tuple(int(d) for d in input_shape), device=device)
    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops() // 2)
