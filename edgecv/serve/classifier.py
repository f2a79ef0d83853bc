"""Image bytes -> top-k labels: decode and preprocess on a worker thread, run through the batcher.

Everything model-specific comes from the Predictor (size, crop, mean/std, class names, the runner),
so the service answers what `edgecv bench` and the demo would on the same image, for any artifact.
"""
from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..eval.logits import topk_indices
from .batcher import BatchOutput, DynamicBatcher
from .decoding import ImageRejected, decode_image
from .schemas import ImageResult, Label, ModelInfo
from .settings import ServeSettings


class Classifier:
    def __init__(self, predictor, batcher: DynamicBatcher, settings: ServeSettings):
        self.predictor = predictor
        self.batcher = batcher
        self.settings = settings
        meta = predictor.artifact.metadata
        self.info = ModelInfo(model=predictor.name, precision=str(meta.precision), backend=str(predictor.artifact.backend))

    def warmup_input(self) -> np.ndarray:
        """A blank image through the real preprocessing: the shape and dtype every request will have."""
        from PIL import Image

        size = self.predictor.image_size
        return self.predictor.preprocess(Image.new("RGB", (size, size)))

    async def classify(self, images: list[tuple[str, bytes]], topk: int) -> list[ImageResult]:
        """One result per image. Raises ClientError (bad image), QueueFull or ShuttingDown."""
        # decoding and resizing are CPU work: off the event loop, on Starlette's bounded thread pool
        arrays = await run_in_threadpool(self._prepare, images)
        futures = self.batcher.submit(arrays)
        outputs = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return [self._result(out, topk) for out in outputs]

    def _prepare(self, images: list[tuple[str, bytes]]) -> list[np.ndarray]:
        s = self.settings
        arrays = []
        for i, (name, data) in enumerate(images):
            try:
                image = decode_image(data, s.max_pixels, s.max_aspect_ratio)
            except ImageRejected as e:
                if len(images) == 1:
                    raise
                raise ImageRejected(e.status, f"image {i} ({name}): {e.reason}") from None
            arrays.append(self.predictor.preprocess(image))
        return arrays

    def _result(self, out: BatchOutput, topk: int) -> ImageResult:
        logits = np.asarray(out.logits, dtype=np.float64).reshape(1, -1)
        z = np.exp(logits - logits.max())
        probs = (z / z.sum())[0]
        names = self.predictor.class_names(logits.shape[1])
        labels = [Label(label=names[i], score=round(float(probs[i]), 6), index=int(i)) for i in topk_indices(logits, topk)[0]]
        return ImageResult(predictions=labels, batch_size=out.batch_size, inference_ms=round(out.inference_s * 1000, 3))
