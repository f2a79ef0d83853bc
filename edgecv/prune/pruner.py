"""torch-pruning behind edgecv: one dependency graph per run, pruned toward a size target in small steps.

The schedule is torch-pruning's own iterative schedule at a fine resolution (1 % of each group's
original channels per sub-step, up to `max_layer_ratio`); `prune_until` jumps ahead several
sub-steps while far from the target and finishes one at a time, so a MACs or params target is hit
closely whatever the architecture. Each group is pruned on its own so a failure names its layer.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn as nn

from ..models import model_name
from ..utils.errors import first_line
from .history import _prune_group, add_session, new_history, require_torch_pruning, tracing
from .importance import importance
from .rewrites import apply_rewrites, refreeze
from .spec import PruneSpec

SUBSTEP = 0.01  # one sub-step removes 1 % of every group's original channels (uniform allocation)


class PruneError(ValueError):
    """Pruning cannot go on; the message names the layer or the target."""


def classifier_names(model: nn.Module) -> list[str]:
    """The output layer(s), never pruned on their output side: timm's pretrained_cfg names them."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    names = cfg.get("classifier")
    names = [names] if isinstance(names, str) else list(names or [])
    modules = dict(model.named_modules())
    found = [n for n in names if n in modules]
    if found:
        return found
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    return linears[-1:]


def resolve_layers(model: nn.Module, names, what: str) -> dict[str, nn.Module]:
    """Module paths -> modules; an unknown name is an error with a did-you-mean."""
    from ..registry import did_you_mean

    modules = dict(model.named_modules())
    out = {}
    for n in names:
        if n not in modules or n == "":
            raise PruneError(f"{what}: '{model_name(model)}' has no layer '{n}'"
                             f"{did_you_mean(n, [k for k in modules if k])}")
        out[n] = modules[n]
    return out


class ChannelPruner:
    def __init__(self, model: nn.Module, example: torch.Tensor, spec: PruneSpec,
                 layer_ratios: dict[str, float] | None = None):
        tp = require_torch_pruning()
        self.model, self.spec, self.example = model, spec, example
        self.name = model_name(model)
        criterion = importance(spec.importance)
        criterion.check(model, self.name)
        self.history = new_history(model)
        self._pristine = copy.deepcopy(model)  # structure before this run, to diagnose a failed step
        self.rewrites = apply_rewrites(model)
        # torch-pruning re-creates pruned weights as trainable Parameters: remember what was frozen
        self._frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        layer_ratios = dict(spec.layer_ratios if layer_ratios is None else layer_ratios)
        ignored = resolve_layers(model, spec.ignore, "ignore")
        ignored.update(resolve_layers(model, classifier_names(model), "classifier"))
        ratio_modules = resolve_layers(model, layer_ratios, "layer_ratios")
        for n, m in ratio_modules.items():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                raise PruneError(f"layer_ratios: '{n}' is a {type(m).__name__}; name a Conv2d or Linear layer")
        self.steps_total = max(1, round(spec.max_layer_ratio / SUBSTEP))
        with tracing(model):
            self.tp = tp.pruner.BasePruner(
                model, example, criterion.criterion(),
                global_pruning=spec.allocation == "global" and not layer_ratios,
                pruning_ratio=spec.max_layer_ratio,
                pruning_ratio_dict={m: layer_ratios[n] for n, m in ratio_modules.items()} or None,
                max_pruning_ratio=spec.max_layer_ratio,
                iterative_steps=self.steps_total,
                ignored_layers=list(ignored.values()),
                round_to=spec.round_to,
            )
        refreeze(model)

    # -- schedule -------------------------------------------------------------------------------
    @property
    def scheduled_ratio(self) -> float:
        """Fraction of each group's original channels the schedule has removed so far."""
        return self.tp.current_step * self.spec.max_layer_ratio / self.steps_total

    @property
    def exhausted(self) -> bool:
        return self.tp.current_step >= self.steps_total

    def prune_to_ratio(self, ratio: float) -> None:
        """Jump the schedule to `ratio` of every group's channels (e.g. 0.5: half the channels)."""
        target = round(ratio / self.spec.max_layer_ratio * self.steps_total)
        if not 0 < target <= self.steps_total:
            raise PruneError(f"channel ratio {ratio} is outside (0, max_layer_ratio={self.spec.max_layer_ratio}]")
        if target > self.tp.current_step:
            self.advance(target - self.tp.current_step)

    def prune_until(self, measure: Callable[[], float], target: float, what: str) -> float:
        """Prune until `measure()` (a ratio to the original: MACs or params) <= target; returns it."""
        value = measure()
        while value > target:
            if self.exhausted:
                raise PruneError(
                    f"cannot reach {what} <= {target:.3f} on '{self.name}': every group is at max_layer_ratio="
                    f"{self.spec.max_layer_ratio} (or ignored) and {what} is {value:.3f}; raise max_layer_ratio, "
                    "ignore fewer layers or relax the target")
            # Size falls roughly with the square of the kept channel fraction: estimate how far to go,
            # then take 70 % of that distance so the last sub-steps land just past the target.
            r = self.scheduled_ratio
            needed = 1 - (1 - r) * math.sqrt(target / value)
            jump = max(1, int(0.7 * (needed - r) / (self.spec.max_layer_ratio / self.steps_total)))
            self.advance(min(jump, self.steps_total - self.tp.current_step))
            value = measure()
        return value

    def advance(self, n: int = 1) -> None:
        """Run `n` sub-steps of the schedule at once (torch-pruning ratios are relative to the start)."""
        self.tp.current_step += n - 1
        try:
            for group in self.tp.step(interactive=True):
                root = self._root_name(group)
                try:
                    group.prune()
                except Exception as e:
                    raise PruneError(f"torch-pruning could not prune layer '{root}' of '{self.name}' "
                                     f"({type(e).__name__}: {first_line(e)}); add it to `ignore:` (CLI: --ignore {root})") from e
        finally:
            refreeze(self.model)
            for n, p in self.model.named_parameters():
                if n in self._frozen:
                    p.requires_grad_(False)
        self._check_forward()

    # -- checks ---------------------------------------------------------------------------------
    def _root_name(self, group) -> str:
        return self.tp.DG._module2name.get(group[0].dep.target.module, "?")

    def _check_forward(self) -> None:
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                self.model(self.example)
        except Exception as e:
            self._diagnose(e)
        finally:
            self.model.train(was)

    def _diagnose(self, error: Exception) -> None:
        """Replay this run's groups one by one on a copy of the original to find the one that breaks it."""
        tp = require_torch_pruning()
        probe = copy.deepcopy(self._pristine)
        apply_rewrites(probe)
        with tracing(probe):
            graph = tp.DependencyGraph().build_dependency(probe, example_inputs=self.example, verbose=False)
        for root, is_out, idxs in self.tp.pruning_history():
            try:
                _prune_group(graph, probe, root, is_out, idxs, self.name)
                with torch.no_grad():
                    probe.eval()(self.example)
            except Exception as e:
                raise PruneError(f"after pruning layer '{root}' of '{self.name}' the model no longer runs "
                                 f"({first_line(e)}); torch-pruning cannot prune it: add '{root}' to `ignore:` "
                                 f"(CLI: --ignore {root})") from e
        raise PruneError(f"the pruned '{self.name}' no longer runs ({first_line(error)})") from error

    # -- result ---------------------------------------------------------------------------------
    def record(self) -> dict:
        """Put the history so far (earlier runs + this one) on `model.edgecv_pruning` and return it.

        Called after every step, so a model saved mid-run (e.g. by a backend timing it) reloads."""
        history = add_session(copy.deepcopy(self.history), tuple(self.example.shape), self.rewrites,
                              self.tp.pruning_history(), self.model)
        self.model.edgecv_pruning = history
        return history

    finish = record

    def group_count(self) -> int:
        return sum(1 for _ in self.tp.DG.get_all_groups(ignored_layers=self.tp.ignored_layers,
                                                        root_module_types=self.tp.root_module_types))
