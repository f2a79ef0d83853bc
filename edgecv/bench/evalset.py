"""The labelled images every artifact is evaluated on, decoded once and shared by all artifacts."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

CACHE_LIMIT_BYTES = 1 << 30  # keep decoded batches in memory below this; stream above it


class EvalSet:
    """Preprocessed NCHW float32 batches with targets in the model's output indices.

    `class_map` maps class (folder) names to output indices; without it, folder i is output i.
    """

    def __init__(self, dataset, class_names: Sequence[str], class_map: dict[str, int] | None = None,
                 batch_size: int = 64, source: str = "data"):
        if len(dataset) == 0:
            raise ValueError(f"{source} holds no images")
        self.dataset, self.class_names, self.class_map = dataset, list(class_names), class_map
        self.batch_size, self.source = batch_size, source
        if class_map is not None:
            missing = [c for c in self.class_names if c not in class_map]
            if missing:
                raise ValueError(f"class map has no entry for class folder(s) {', '.join(missing[:10])} of {source}")
            self._to_output = np.array([class_map[c] for c in self.class_names], dtype=np.int64)
        else:
            self._to_output = np.arange(len(self.class_names), dtype=np.int64)
        self._cache: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._reference: dict[int, np.ndarray] = {}

    @classmethod
    def from_folder(cls, root: str | Path, image_size: int, mean, std, class_map=None,
                    crop_pct: float = 0.875, batch_size: int = 64) -> "EvalSet":
        """An ImageFolder whose sorted class folders are the classes, eval-transformed."""
        from ..data.folder import image_folder
        from ..data.transforms import build_transform

        ds = image_folder(root, build_transform(False, image_size, mean, std, None, crop_pct))
        return cls(ds, ds.classes, class_map, batch_size, source=str(root))

    def subset(self, images: int | None, seed: int = 0) -> "EvalSet":
        """A seeded, stratified subset of about `images` images (every class kept); itself when it has no more."""
        if not images or images >= len(self):
            return self
        from ..data.subset import stratified_subset

        sub = stratified_subset(self.dataset, images, seed)
        return EvalSet(sub, self.class_names, self.class_map, self.batch_size,
                       source=f"{self.source} ({len(sub)} of {len(self)} images)")

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def restricted_outputs(self) -> np.ndarray | None:
        """Output indices of the mapped classes (top-1 among them is 'top1_restricted')."""
        return np.unique(self._to_output) if self.class_map is not None else None

    def check_outputs(self, num_outputs: int, model_classes: Sequence[str] | None = None, what: str = "model") -> None:
        """Raise a clear error when the data's classes cannot be the model's outputs."""
        if self.class_map is None:
            if len(self.class_names) != num_outputs:
                raise ValueError(
                    f"{self.source} has {len(self.class_names)} class folders but the {what} has {num_outputs} outputs; "
                    "point --data at a folder with one sub-folder per model class, or pass --class-map FILE")
            if model_classes and list(model_classes) != self.class_names:
                diff = [f"{a}!={b}" for a, b in zip(self.class_names, model_classes) if a != b][:5]
                raise ValueError(f"class folders of {self.source} do not match the {what}'s classes ({', '.join(diff)})")
        else:
            bad = {c: i for c, i in self.class_map.items() if i >= num_outputs}
            if bad:
                raise ValueError(f"class map indices {bad} are out of range for a {what} with {num_outputs} outputs")

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._cache is not None:
            yield from self._cache
            return
        from torch.utils.data import DataLoader

        cache, size = [], 0
        for x, y in DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=0):
            item = (np.ascontiguousarray(x.numpy(), dtype=np.float32), self._to_output[np.asarray(y)])
            size += item[0].nbytes
            if cache is not None:
                if size < CACHE_LIMIT_BYTES:
                    cache.append(item)
                else:
                    cache = None
            yield item
        if cache is not None:
            self._cache = cache

    def targets(self) -> np.ndarray:
        """Every image's target output index, in order."""
        return np.concatenate([y for _, y in self.batches()])

    def first(self, n: int) -> np.ndarray:
        """n real images (repeated if the set is smaller) for timing."""
        xs, got = [], 0
        while got < n:
            for x, _ in self.batches():
                xs.append(x)
                got += len(x)
                if got >= n:
                    break
        return np.ascontiguousarray(np.concatenate(xs)[:n])

    def reference_logits(self, model) -> np.ndarray:
        """Logits of the PyTorch reference on the whole set, computed once per model."""
        if id(model) not in self._reference:
            from ..backends import module_runner

            run = module_runner(model)
            self._reference[id(model)] = np.concatenate([run(x) for x, _ in self.batches()])
        return self._reference[id(model)]
