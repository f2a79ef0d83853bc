"""Confusion matrix and per-class accuracy as CSV and PNG files a person can read."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..utils.io import write_text


def write_confusion(conf: np.ndarray, class_names: list[str], per_class: list[float], out_prefix: Path, title: str) -> dict:
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["true\\pred", *class_names])
    for name, row in zip(class_names, conf):
        w.writerow([name, *row.tolist()])
    csv_path = write_text(out_prefix.with_suffix(".csv"), buf.getvalue())

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["class", "accuracy", "support"])
    for name, acc, sup in zip(class_names, per_class, conf.sum(axis=1)):
        w.writerow([name, f"{acc:.2f}", int(sup)])
    pc_path = write_text(out_prefix.parent / (out_prefix.name + "_per_class.csv"), buf.getvalue())

    png_path = out_prefix.with_suffix(".png")
    _plot(conf, class_names, png_path, title)
    return {"confusion_csv": str(csv_path), "per_class_csv": str(pc_path), "confusion_png": str(png_path)}


def _plot(conf: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    from ..utils.plots import pyplot, save_png

    plt = pyplot()

    n = len(class_names)
    norm = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * n + 2), max(4, 0.5 * n + 1.5)))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if conf[i, j]:
                    ax.text(j, i, int(conf[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
