"""Image bytes -> top-k labels: decode and preprocess (small images on the event loop, larger ones on
a worker thread), then run through the batcher, whose one thread owns the runner.

Everything model-specific comes from the Predictor (size, crop, mean/std, class names, the runner),
so the service answers what `edgecv bench` and the demo would on the same image, for any artifact.
"""
from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool

from .batcher import BatchOutput, DynamicBatcher, ShuttingDown
from .decoding import ImageRejected, load_rgb, open_image
from .errors import InferenceFailed
from .schemas import ImageResult, Label, ModelInfo
from .settings import ServeSettings

# Decoding and preprocessing a thumbnail takes less time than handing it to a thread (and competing
# with that thread for the GIL): up to this many pixels (in + out) and bytes, the work runs on the
# event loop, which then never stalls for more than a fraction of a millisecond; larger images go to
# the thread pool.
INLINE_PIXELS = 128 * 128
INLINE_BYTES = 64 * 1024


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
        """One result per (name, bytes) image. Raises ClientError (bad image), QueueFull, ShuttingDown
        or InferenceFailed."""
        s = self.settings
        names = [name for name, _ in images]
        opened = _each(names, [data for _, data in images], lambda data: open_image(data, s.max_pixels, s.max_aspect_ratio))
        out_pixels = self.predictor.image_size ** 2
        small = (sum(im.size[0] * im.size[1] + out_pixels for im in opened) <= INLINE_PIXELS
                 and sum(len(data) for _, data in images) <= INLINE_BYTES)
        if small:
            arrays = self._prepare(names, opened)
        else:  # decoding and resizing large images is CPU work: off the event loop, on Starlette's bounded pool
            arrays = await run_in_threadpool(self._prepare, names, opened)
        futures = self.batcher.submit(arrays)
        try:
            if len(futures) == 1:  # the common case, without gather's extra task and callbacks
                outputs = [await asyncio.wrap_future(futures[0])]
            else:
                outputs = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except ShuttingDown:
            raise
        except Exception as e:  # the runtime's own error types
            from ..utils.errors import first_line

            raise InferenceFailed(f"inference failed: {first_line(e)}") from e
        return [self._result(out, topk) for out in outputs]

    def _prepare(self, names: list[str], opened: list) -> list[np.ndarray]:
        return [self.predictor.preprocess(image) for image in _each(names, opened, load_rgb)]

    def _result(self, out: BatchOutput, topk: int) -> ImageResult:
        pred = self.predictor.predictions(np.asarray(out.logits).reshape(1, -1), topk)[0]
        labels = [Label(label=name, score=round(score, 6), index=i) for name, score, i in zip(pred.labels, pred.scores, pred.indices)]
        return ImageResult(predictions=labels, batch_size=out.batch_size, inference_ms=round(out.inference_s * 1000, 3))


def _each(names: list[str], items: list, step) -> list:
    """`step` over the items; when one of several is refused, the reason says which."""
    out = []
    for i, (name, item) in enumerate(zip(names, items)):
        try:
            out.append(step(item))
        except ImageRejected as e:
            if len(items) == 1:
                raise
            raise ImageRejected(e.status, f"image {i} ({name}): {e.reason}") from None
    return out
