"""Calibration data as a duck-typed source of preprocessed NCHW float32 batches.

One source feeds every quantizer: ONNX Runtime (`onnx_reader`), PyTorch PT2E/torchao/ModelOpt
(`forward_loop`) and TFLite/TensorRT calibrators (plain iteration). The library never owns the data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np


class CalibrationSource:
    def __init__(self, dataset, size: int = 256, batch_size: int = 32, seed: int = 0):
        if len(dataset) == 0:
            raise ValueError("calibration set is empty: point it at a folder or split that holds images")
        rng = np.random.default_rng(seed)
        n = min(size, len(dataset))
        self.indices = np.sort(rng.permutation(len(dataset))[:n]).tolist()
        self.dataset, self.batch_size = dataset, batch_size
        self._cache: list[np.ndarray] | None = None

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        size: int = 256,
        batch_size: int = 32,
        seed: int = 0,
    ) -> "CalibrationSource":
        """An ImageFolder (`folder/<class>/*`) or a flat folder of images, eval-transformed."""
        from .folder import IMAGE_EXTENSIONS, image_folder
        from .transforms import build_transform

        folder = Path(folder)
        t = build_transform(False, image_size, mean, std)
        if folder.is_dir() and any(p.is_dir() for p in folder.iterdir()):
            return cls(image_folder(folder, t), size, batch_size, seed)
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS) if folder.is_dir() else []
        if not files:
            raise ValueError(f"calibration folder {folder} holds no images")
        return cls(_FlatImages(files, t), size, batch_size, seed)

    def __len__(self) -> int:
        return len(self.indices)

    def batches(self) -> list[np.ndarray]:
        if self._cache is None:
            out = []
            for s in range(0, len(self.indices), self.batch_size):
                items = [self.dataset[i][0] for i in self.indices[s : s + self.batch_size]]
                out.append(np.stack([np.asarray(x, dtype=np.float32) for x in items]))
            self._cache = out
        return self._cache

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches())

    def check_shape(self, expected: Sequence[int | str | None], what: str = "model") -> None:
        """Raise if the batches' C, H, W differ from `expected` (NCHW; symbolic dims pass)."""
        got = self.batches()[0].shape
        for i, (g, e) in enumerate(zip(got[1:], list(expected)[1:]), start=1):
            if isinstance(e, int) and e > 0 and g != e:
                raise ValueError(f"calibration images have shape {tuple(got[1:])} but the {what} expects {tuple(expected[1:])}")

    def forward_loop(self) -> Callable:
        """A `forward_loop(model)` for torch-side calibrators (PT2E, ModelOpt)."""

        def loop(model) -> None:
            import torch

            with torch.no_grad():
                for b in self.batches():
                    model(torch.from_numpy(b))

        return loop

    def onnx_reader(self, input_name: str):
        """An onnxruntime.quantization CalibrationDataReader over the same images (one a feed)."""
        return array_reader(np.concatenate(self.batches()), input_name)


def array_reader(images: np.ndarray, input_name: str):
    """An onnxruntime.quantization CalibrationDataReader over an NCHW array, one image per feed."""
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self.rewind()

        def get_next(self):
            return next(self._it, None)

        def rewind(self):
            self._it = ({input_name: images[i : i + 1]} for i in range(len(images)))

        def __len__(self):
            return len(images)

    return _Reader()


class _FlatImages:
    def __init__(self, files, transform):
        self.files, self.transform = files, transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from .folder import load_image

        return self.transform(load_image(str(self.files[i]))), -1
