"""Cached teacher outputs for KD, in the spirit of FKD (Shen & Xing, "A Fast Knowledge Distillation
Framework for Visual Recognition"): the teacher labels each augmented batch once, and later epochs
reuse those labels instead of running the teacher again.

How the batches repeat: the training loop seeds data order, augmentation and mixup/CutMix from
(seed, data epoch) only. With `views: V`, epoch e is trained on data epoch e % V, so epochs V, 2V, ...
see exactly the batches of epochs 0, V, ... and their teacher outputs come from the cache. V = epochs
caches every epoch once; that pays off when several students are distilled from the same teacher,
data and seed (the cache directory is keyed by all of these and shared between runs). A smaller V
trades augmentation variety for teacher time, as FKD's stored crops do.

Every cached batch carries a checksum of its inputs and targets. A batch that comes out differently
(a student that draws random numbers between batches, a changed transform) is never given another
batch's labels: the teacher runs live for it, and the cache says so once.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch

from ..utils.console import get_console


class TeacherCache:
    def __init__(self, directory: str | Path, key: str, views: int):
        if views < 1:
            raise ValueError(f"teacher_cache.views must be >= 1, got {views}")
        self.directory = Path(directory) / key
        self.views = views
        self.hits = self.misses = self.mismatches = 0
        self._view: int | None = None
        self._entries: list[dict] = []
        self._step = 0
        self._dirty = False
        self._warned = False

    def data_epoch(self, epoch: int) -> int:
        """The data epoch (seeding of order, augmentation, mixing) that training epoch `epoch` replays."""
        return epoch % self.views

    def begin_epoch(self, epoch: int) -> None:
        self._view = self.data_epoch(epoch)
        path = self._path(self._view)
        self._entries = torch.load(path, map_location="cpu", weights_only=True)["batches"] if path.is_file() else []
        self._step = 0
        self._dirty = False

    def end_epoch(self) -> None:
        """Write the view if this epoch labelled batches it did not have (atomically: a killed run
        leaves the previous file or none)."""
        from ..utils.io import torch_save

        if self._dirty and self._view is not None:
            torch_save({"batches": self._entries}, self._path(self._view))
        self._dirty = False

    def lookup(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor] | None:
        """The cached teacher logits of this epoch's next batch, or None (then call `store`)."""
        step = self._step
        self._step += 1
        if step >= len(self._entries):
            self.misses += 1
            return None
        entry = self._entries[step]
        if not _same(entry["checksum"], batch_checksum(x, y)):
            self.mismatches += 1
            self.misses += 1
            if not self._warned:
                get_console().print(f"[yellow]teacher cache: batch {step} of data epoch {self._view} is not the "
                                    "batch it was recorded from (the student may draw random numbers, or the data "
                                    "changed); the teacher runs live for such batches[/]")
                self._warned = True
            return None
        self.hits += 1
        return [t.to(device=x.device, dtype=torch.float32) for t in entry["logits"]]

    def store(self, x: torch.Tensor, y: torch.Tensor, logits: Sequence[torch.Tensor]) -> None:
        """Record the teacher logits of the batch `lookup` just missed."""
        step = self._step - 1
        entry = {"checksum": batch_checksum(x, y), "logits": [t.detach().to("cpu", torch.float16) for t in logits]}
        if step < len(self._entries):  # a mismatched batch: the newer recording replaces it
            self._entries[step] = entry
        elif step == len(self._entries):
            self._entries.append(entry)
        else:  # cannot happen with lookup/store in pairs; refuse rather than misalign later batches
            raise RuntimeError(f"teacher cache: store for batch {step} but only {len(self._entries)} recorded")
        self._dirty = True

    def stats(self) -> dict:
        total = self.hits + self.misses
        return {"views": self.views, "hits": self.hits, "misses": self.misses, "mismatches": self.mismatches,
                "hit_rate": round(self.hits / total, 4) if total else None, "directory": str(self.directory)}

    def _path(self, view: int) -> Path:
        return self.directory / f"view{view:03d}.pt"


def batch_checksum(x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """A cheap fingerprint of a batch: sums of the inputs weighted two ways, and of the targets. The
    same seeded batch reproduces it bit for bit; a different one almost surely not."""
    xf = x.detach().float().flatten(1)
    weights = torch.arange(1, xf.shape[1] + 1, device=xf.device, dtype=torch.float32) / xf.shape[1]
    rows = torch.arange(1, xf.shape[0] + 1, device=xf.device, dtype=torch.float64)
    per_image = (xf * weights).sum(1).double()
    return [float(xf.double().sum()), float((per_image * rows).sum()), float(y.detach().double().sum()),
            float(x.shape[0])]


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    """Equal up to summation order (thread counts change it in the last bits), nothing more."""
    return len(a) == len(b) and all(abs(u - v) <= 1e-7 * (abs(u) + abs(v) + 1) for u, v in zip(a, b))


def cache_key(teachers: Sequence[torch.nn.Module], **settings) -> str:
    """A directory name that changes with the teachers' weights and every setting that shapes the batches."""
    h = hashlib.sha256()
    for teacher in teachers:
        for name, tensor in teacher.state_dict().items():
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]
