"""One readable line for a checkpoint that does not fit a model: counts of missing, unexpected and
reshaped keys, the first few names, and the architecture the checkpoint most likely belongs to."""
from __future__ import annotations

import re
from typing import Mapping

# timm models tried when guessing what a state dict belongs to (built on the meta device: no memory,
# no weights). CIFAR ResNets are recognised from their keys directly.
CANDIDATES = ("resnet18", "resnet34", "resnet50", "mobilenetv2_050", "mobilenetv2_100", "mobilenetv3_small_050",
              "mobilenetv3_small_100", "mobilenetv3_large_100", "efficientnet_b0", "squeezenet1_0", "squeezenet1_1")
SHOW = 3  # names shown per kind


def mismatch_summary(model, state: Mapping, model_name: str | None = None) -> str:
    """'162 missing, 0 unexpected, 0 with other shapes (missing: a, b, c, ...); it looks like a cifar_resnet20
    checkpoint (3 blocks per stage)'. `state` maps names to tensors (or anything with a .shape)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and _shape(own[k]) != _shape(state[k])]
    text = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(reshaped)} with other shapes"
    shown = []
    if missing:
        shown.append(f"missing: {_first(missing)}")
    if unexpected:
        shown.append(f"unexpected: {_first(unexpected)}")
    if reshaped:
        shown.append("shapes: " + ", ".join(f"{k} {_shape(state[k])} in the file vs {_shape(own[k])}" for k in reshaped[:SHOW])
                     + (", ..." if len(reshaped) > SHOW else ""))
    if shown:
        text += f" ({'; '.join(shown)})"
    hint = _hint(state, own, missing, unexpected, reshaped, model_name)
    return text + (f"; {hint}" if hint else "")


def guess_architecture(state: Mapping, exclude: str | None = None) -> tuple[str, str] | None:
    """(model name, why) for the registered model whose keys and shapes the state dict has, else None."""
    cifar = _cifar_resnet(state)
    if cifar:
        return cifar
    keys = {k: _shape(v) for k, v in state.items()}
    try:
        import timm
        import torch
    except ImportError:  # pragma: no cover - core dependencies
        return None
    for name in CANDIDATES:
        if name == exclude or not timm.is_model(name):
            continue
        try:
            with torch.device("meta"):
                cand = {k: _shape(v) for k, v in timm.create_model(name).state_dict().items()}
        except Exception:  # a candidate that cannot be built here is simply not a candidate
            continue
        if set(cand) != set(keys):
            continue
        other = [k for k in cand if cand[k] != keys[k]]
        if len(other) <= 2:  # at most the classifier's weight and bias differ (another class count)
            return name, "same layer names and shapes" + (", another class count" if other else "")
    return None


def _cifar_resnet(state: Mapping) -> tuple[str, str] | None:
    """CIFAR ResNet-(6n+2): conv1, layer1..3 with n blocks each, linear; the depth comes from n."""
    if "linear.weight" not in state or "conv1.weight" not in state:
        return None
    blocks: dict[int, set[int]] = {}
    for k in state:
        m = re.match(r"layer(\d+)\.(\d+)\.", k)
        if m:
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    if sorted(blocks) != [1, 2, 3]:
        return None
    counts = {len(v) for v in blocks.values()}
    if len(counts) != 1:
        return None
    n = counts.pop()
    depth = 6 * n + 2
    why = f"{n} blocks per stage, {int(_shape(state['linear.weight'])[0])} classes"
    if depth in (8, 14, 20, 32, 44, 56):
        return f"cifar_resnet{depth}", why
    return f"CIFAR ResNet-{depth} (edgecv registers cifar_resnet8/14/20/32/44/56)", why


def _hint(state, own, missing, unexpected, reshaped, model_name) -> str:
    if not missing and not unexpected and reshaped and all(k.split(".")[0] == reshaped[0].split(".")[0] for k in reshaped):
        first = reshaped[0]
        if len(_shape(state[first])) in (1, 2) and len(reshaped) <= 2:  # the classifier: another class count
            return f"the file has {_shape(state[first])[0]} outputs in '{first.split('.')[0]}': pass that num_classes"
    guess = guess_architecture(state, exclude=model_name)
    if guess and guess[0] != model_name:
        return f"it looks like a {guess[0]} checkpoint ({guess[1]})"
    return ""


def _first(names: list[str]) -> str:
    return ", ".join(names[:SHOW]) + (", ..." if len(names) > SHOW else "")


def _shape(v) -> tuple[int, ...]:
    return tuple(int(d) for d in getattr(v, "shape", ()))
