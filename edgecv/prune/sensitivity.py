"""Per-group sensitivity: prune one group of coupled channels at a time and measure the top-1 drop.

A *group* is what torch-pruning must prune together (e.g. every conv writing one residual stream);
it is named by its first prunable layer. The scan gives a table (CSV + Markdown) and a plot, and
`ratios_from_scan` turns it into non-uniform per-layer ratios: each group gets the largest scanned
ratio whose drop stays within `max_drop` points.
"""
from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from .measure import top1


def list_groups(model: nn.Module, example: torch.Tensor, ignore: Sequence[str] = ()) -> list[dict]:
    """Prunable groups of `model` (after the rewrites pruning would apply): name, channels, layers."""
    probe = copy.deepcopy(model)
    graph, ignored = _graph(probe, example, ignore)
    out = []
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=(nn.Conv2d, nn.Linear)):
        root = group[0].dep.target.module
        out.append({"group": _name_of(graph, group), "root": graph._module2name[root],
                    "channels": int(graph.get_out_channels(root)),
                    "layers": len({graph._module2name.get(d.target.module) for d, _ in group} - {None})})
    return out


def scan_sensitivity(model: nn.Module, example: torch.Tensor, val_batches, ratios: Sequence[float],
                     importance: str = "l2", ignore: Sequence[str] = (), device="cpu", console=None) -> list[dict]:
    """One row per (group, ratio): top-1 after pruning only that group, and the drop from the original."""
    from .importance import importance as named_importance
    from .spec import check_ratio

    if not val_batches:
        raise ValueError("a sensitivity scan needs labelled val images (recipe data:, or --finetune-data DIR)")
    ratios = [check_ratio(r, "sensitivity ratio") for r in ratios]
    base = top1(model, val_batches, device)
    groups = list_groups(model, example, ignore)
    imp = named_importance(importance).without_gradients().criterion()  # no gradients in a scan
    rows = []
    for g in groups:
        for ratio in ratios:
            probe = copy.deepcopy(model)
            graph, _ = _graph(probe, example, ignore)
            root = probe.get_submodule(g["root"])
            pruner = graph.get_pruner_of_module(root)
            full = graph.get_pruning_group(root, pruner.prune_out_channels, list(range(g["channels"])))
            scores = imp(full)
            n = min(int(g["channels"] * ratio), g["channels"] - 1)
            if scores is None or n <= 0:
                continue
            idxs = torch.argsort(scores)[:n].tolist()
            graph.get_pruning_group(root, pruner.prune_out_channels, idxs).prune(record_history=False)
            acc = top1(probe, val_batches, device)
            rows.append({**g, "ratio": ratio, "top1": acc, "drop": round(base - acc, 2), "base_top1": base})
        if console is not None:
            console.print(f"[dim]sensitivity {g['group']}: " + ", ".join(
                f"{r['ratio']:.2f} -> -{r['drop']:.2f}" for r in rows if r["group"] == g["group"]) + "[/]")
    return rows


def ratios_from_scan(rows: list[dict], max_drop: float) -> dict[str, float]:
    """Per group (by its layer name): the largest scanned ratio whose drop is <= max_drop, else 0."""
    out: dict[str, float] = {}
    for r in sorted(rows, key=lambda r: r["ratio"]):
        out.setdefault(r["group"], 0.0)
        if r["drop"] <= max_drop:
            out[r["group"]] = r["ratio"]
    return out


def write_scan(rows: list[dict], out_dir: str | Path, title: str = "per-group sensitivity") -> dict:
    """sensitivity.csv, sensitivity.md and sensitivity.png in out_dir; returns their paths."""
    from ..utils.io import write_text

    out_dir = Path(out_dir)
    buf = io.StringIO()
    cols = ["group", "channels", "layers", "ratio", "top1", "drop"]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    files = {"sensitivity_csv": str(write_text(out_dir / "sensitivity.csv", buf.getvalue())),
             "sensitivity_md": str(write_text(out_dir / "sensitivity.md", scan_markdown(rows)))}
    files["sensitivity_png"] = str(_plot(rows, out_dir / "sensitivity.png", title))
    return files


def scan_markdown(rows: list[dict]) -> str:
    from ..utils.tables import markdown_table

    ratios = sorted({r["ratio"] for r in rows})
    body = []
    for g in dict.fromkeys(r["group"] for r in rows):
        cells = {r["ratio"]: r for r in rows if r["group"] == g}
        first = next(iter(cells.values()))
        body.append([g, first["channels"], first["layers"],
                     *(f"{cells[r]['drop']:.2f}" if r in cells else "-" for r in ratios)])
    return markdown_table(["group", "channels", "layers", *(f"drop @ {r:.2f}" for r in ratios)], body,
                          "lrr" + "r" * len(ratios))


def _plot(rows: list[dict], path: Path, title: str) -> Path:
    from ..utils.plots import pyplot, save_png

    plt = pyplot()
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * len(groups) + 2), 4))
    for ratio in sorted({r["ratio"] for r in rows}):
        ys = {r["group"]: r["drop"] for r in rows if r["ratio"] == ratio}
        ax.plot(range(len(groups)), [ys.get(g, float("nan")) for g in groups], marker="o", label=f"prune {ratio:.0%}")
    ax.set_xticks(range(len(groups)), groups, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("top-1 drop (points)")
    ax.set_title(title)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return path


def _graph(model: nn.Module, example: torch.Tensor, ignore: Sequence[str]):
    from .history import require_torch_pruning

    tp = require_torch_pruning()

    from .history import tracing
    from .pruner import classifier_names, resolve_layers
    from .rewrites import apply_rewrites

    apply_rewrites(model)
    ignored = resolve_layers(model, [*ignore, *classifier_names(model)], "ignore")
    with tracing(model):
        graph = tp.DependencyGraph().build_dependency(model, example_inputs=example, verbose=False)
    return graph, [m for mod in ignored.values() for m in mod.modules()]


def _name_of(graph, group) -> str:
    """A group's name: its first out-pruned layer that is not a rewrite helper (e.g. `layer2.0.conv2`)."""
    from .rewrites import ChannelPlacement

    names = [graph._module2name.get(d.target.module) for d, _ in group
             if graph.is_out_channel_pruning_fn(d.handler) and isinstance(d.target.module, (nn.Conv2d, nn.Linear))
             and not isinstance(d.target.module, ChannelPlacement)]
    order = {n: i for i, n in enumerate(graph._module2name.values())}  # model order: shallowest first
    names = sorted((n for n in names if n), key=lambda n: order.get(n, 1 << 30))
    return names[0] if names else graph._module2name.get(group[0].dep.target.module, "?")
