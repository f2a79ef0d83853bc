"""A Predictor: an artifact, its metadata's preprocessing, its runner and its class names.

    p = Predictor("model.onnx", threads=2)
    p.predict(Image.open("cat.png"), k=3)           # -> Prediction(labels, scores, indices)
    p.predict_batch([frame1, frame2], bgr=True)     # OpenCV frames (HxWx3 uint8, BGR)
    p.evalset("val/")                               # labelled folder through the same preprocessing

The same transform (resize, centre crop, normalise) serves single images, batches and evaluation
folders, so every command that turns an image into a prediction agrees on the same frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_CROP_PCT = 0.875  # timm's default for inputs larger than 64 px; smaller ones are resized whole


@dataclass
class Prediction:
    labels: list[str]
    scores: list[float]  # softmax probabilities, best first
    indices: list[int]

    def as_dict(self) -> list[dict]:
        return [{"label": lab, "score": round(s, 6), "index": i} for lab, s, i in zip(self.labels, self.scores, self.indices)]


class Predictor:
    def __init__(self, artifact, threads: int | None = None, crop_pct: float = DEFAULT_CROP_PCT,
                 class_names: Sequence[str] | str | Path | None = None, **overrides):
        """`artifact`: an Artifact or a path (opened with `open_artifact`, `overrides` passed on).
        `class_names` (a list, or a class names file): what the outputs are called, instead of the
        artifact's metadata (files exported without data know none); checked against the outputs."""
        from ..backends import BACKENDS, Artifact, open_artifact
        from ..data.transforms import build_eval_array_transform, build_transform

        self.artifact = artifact if isinstance(artifact, Artifact) else open_artifact(artifact, **overrides)
        meta = self.artifact.metadata
        self.image_size = meta.image_size
        self.runner = BACKENDS.get(self.artifact.backend).load(self.artifact, threads)
        self.fixed_batch = meta.input_shape[0] if isinstance(meta.input_shape[0], int) else None
        self.crop_pct = crop_pct
        self.transform = build_transform(False, self.image_size, meta.mean, meta.std, None, crop_pct)
        # the same values without a tensor per image (tested equal): single images and frames take this
        self.array_transform = build_eval_array_transform(self.image_size, meta.mean, meta.std, crop_pct)
        self._class_names = list(meta.class_names) if meta.class_names else None
        if class_names is not None:
            self._class_names = self._checked_names(class_names)

    @property
    def name(self) -> str:
        return self.artifact.metadata.source_model or self.artifact.path.stem

    def _checked_names(self, class_names) -> list[str]:
        """Given names, refused unless there is one per output (found by running a blank image)."""
        from ..bench.classmap import given_class_names

        names, where = given_class_names(class_names)
        outputs = self.logits(np.zeros((1, 3, self.image_size, self.image_size), np.float32)).shape[1]
        if len(names) != outputs:
            raise ValueError(f"{where} has {len(names)} names but {self.artifact.path.name} has {outputs} outputs")
        return names

    def class_names(self, num_outputs: int) -> list[str]:
        names = self._class_names
        return names if names and len(names) == num_outputs else [str(i) for i in range(num_outputs)]

    @property
    def resize_side(self) -> int:
        """The side images are resized to before the crop: a decoder may stop at it (e.g. a JPEG's draft)."""
        from ..data.transforms import eval_resize_side

        return eval_resize_side(self.image_size, self.crop_pct)

    def preprocess(self, image, bgr: bool = False) -> np.ndarray:
        """One image (a file, a PIL image, or an HxWx3 uint8 array, RGB unless `bgr`) -> normalised CxHxW float32."""
        from PIL import Image

        if isinstance(image, (str, Path)):
            from ..data.folder import load_image

            image = load_image(str(image))
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
                raise ValueError(f"expected an HxWx3 image array, got shape {image.shape}")
            arr = image[:, :, :3][:, :, ::-1] if bgr and image.shape[2] >= 3 else image
            image = Image.fromarray(np.ascontiguousarray(arr.astype(np.uint8)))
        return self.array_transform(image)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """NCHW float32 batch -> logits, in chunks when the artifact has a fixed batch size."""
        from ..eval.logits import run_all

        return run_all(self.runner, [np.ascontiguousarray(batch, dtype=np.float32)], self.fixed_batch)

    def predict_batch(self, images: Sequence, k: int = 5, bgr: bool = False) -> list[Prediction]:
        if not len(images):
            return []
        return self.predictions(self.logits(np.stack([self.preprocess(im, bgr) for im in images])), k)

    def predictions(self, logits: np.ndarray, k: int = 5) -> list[Prediction]:
        """Logits (N, classes) -> the top-k labels and softmax scores of each row, best first."""
        from ..eval.logits import top_k

        logits = np.asarray(logits).reshape(len(logits), -1)
        names = self.class_names(logits.shape[1])
        return [Prediction([names[i] for i in idx], [float(p) for p in probs], [int(i) for i in idx])
                for idx, probs in zip(*top_k(logits, k))]

    def predict(self, image, k: int = 5, bgr: bool = False) -> Prediction:
        return self.predict_batch([image], k, bgr)[0]

    def evalset(self, folder: str | Path, class_map: dict | None = None, batch_size: int = 64):
        """A labelled folder (DIR/<class>/*) seen through this predictor's preprocessing."""
        from ..bench import EvalSet
        from ..data.folder import image_folder

        ds = image_folder(folder, self.transform)
        return EvalSet(ds, ds.classes, class_map, batch_size, source=str(folder))
