"""Image bytes -> top-k labels: decode and preprocess one image at a time, then run them through the
batcher, whose one thread owns the runner.

Memory is bounded by bytes (the decode budget, shared by all requests), not by a count of images:
- each image's header is read first (nothing decoded) and its decode cost computed from its size and
  mode; a JPEG is decoded at the smallest DCT scale that still gives 2x the model's resize side;
- the cost is held in the budget while the image is decoded and preprocessed, then given back; the
  model input it became (a few KiB to 600 KiB) stays held until its answer is sent;
- an image that alone needs more than the budget gets 413; a request that waits longer than the
  budget's wait for others to finish gets 503 + Retry-After.
Small images decode on the event loop (cheaper than a thread hand-off); larger ones on the thread pool.

Everything model-specific comes from the Predictor (size, crop, mean/std, class names, the runner),
so the service answers what `edgecv bench` and the demo would on the same image, for any artifact
(a large JPEG excepted: its reduced decode differs from a full one in the last digits).
"""
from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..utils.memory import release_freed_memory
from .batcher import BatchOutput, DynamicBatcher, ShuttingDown
from .budget import BudgetTooSmall, ByteBudget
from .decoding import ImageRejected, decode_bytes, load_rgb, open_image, reduce_on_decode
from .errors import InferenceFailed
from .schemas import ImageResult, Label, ModelInfo
from .settings import ServeSettings

# Decoding and preprocessing a thumbnail takes less time than handing it to a thread (and competing
# with that thread for the GIL): up to this many pixels (in + out) and bytes, the work runs on the
# event loop, which then never stalls for more than a fraction of a millisecond; larger images go to
# the thread pool.
INLINE_PIXELS = 128 * 128
INLINE_BYTES = 64 * 1024
TRIM_BYTES = 32 * 2**20  # after decoding an image this large, freed memory is handed back to the OS


class Classifier:
    def __init__(self, predictor, batcher: DynamicBatcher, settings: ServeSettings, budget: ByteBudget | None = None):
        self.predictor = predictor
        self.batcher = batcher
        self.settings = settings
        self.budget = budget or ByteBudget(settings.decode_budget_bytes, settings.decode_wait_s, "decode memory")
        meta = predictor.artifact.metadata
        self.info = ModelInfo(model=predictor.name, precision=str(meta.precision), backend=str(predictor.artifact.backend))
        self.input_bytes = 3 * predictor.image_size ** 2 * 4  # one model input (CxHxW float32)
        self.draft_side = 2 * predictor.resize_side  # a JPEG decodes at a DCT scale giving at least this

    def warmup_input(self) -> np.ndarray:
        """A blank image through the real preprocessing: the shape and dtype every request will have."""
        from PIL import Image

        size = self.predictor.image_size
        return self.predictor.preprocess(Image.new("RGB", (size, size)))

    async def classify(self, images: list[tuple[str, bytes]], topk: int) -> list[ImageResult]:
        """One result per (name, bytes) image. Raises ClientError (bad image, 413 over the budget),
        Busy, QueueFull, ShuttingDown or InferenceFailed."""
        arrays: list[np.ndarray] = []
        try:
            for i, (name, data) in enumerate(images):
                arrays.append(await self._prepare(data, _Where(i, name, len(images))))
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
        finally:
            self.budget.give_back(len(arrays) * self.input_bytes)  # the model inputs, held since decoding
        return [self._result(out, topk) for out in outputs]

    async def _prepare(self, data: bytes, where: "_Where") -> np.ndarray:
        """One image's model input; its decode memory is held in the budget only while it is made."""
        s = self.settings
        image = where.check(open_image, data, s.max_pixels, s.max_aspect_ratio)  # the header: nothing decoded
        reduce_on_decode(image, self.draft_side)
        cost = decode_bytes(image)
        try:
            await self.budget.take(cost + self.input_bytes)
        except BudgetTooSmall as e:
            raise where.refused(413, f"{image.size[0]}x{image.size[1]} {image.format} ({image.mode}) {e}; "
                                     "send a smaller image") from None
        try:
            small = image.size[0] * image.size[1] <= INLINE_PIXELS and len(data) <= INLINE_BYTES
            if small:
                return self._decode(image, where)
            # decoding and resizing large images is CPU work: off the event loop, on Starlette's bounded pool
            return await run_in_threadpool(self._decode, image, where)
        except BaseException:
            self.budget.give_back(self.input_bytes)
            raise
        finally:
            self.budget.give_back(cost)
            if cost >= TRIM_BYTES:  # a large image's pixels are freed by now: return them to the OS
                release_freed_memory()

    def _decode(self, image, where: "_Where") -> np.ndarray:
        try:
            return self.predictor.preprocess(where.check(load_rgb, image))
        finally:
            image.close()  # its decoded pixels are freed now, not whenever the object is collected

    def _result(self, out: BatchOutput, topk: int) -> ImageResult:
        pred = self.predictor.predictions(np.asarray(out.logits).reshape(1, -1), topk)[0]
        labels = [Label(label=name, score=round(score, 6), index=i) for name, score, i in zip(pred.labels, pred.scores, pred.indices)]
        return ImageResult(predictions=labels, batch_size=out.batch_size, inference_ms=round(out.inference_s * 1000, 3))


class _Where:
    """Which image of a request a refusal is about: 'image 3 (cat.png): ...' when it sent several."""

    def __init__(self, index: int, name: str, count: int):
        self.index, self.name, self.count = index, name, count

    def refused(self, status: int, reason: str) -> ImageRejected:
        return ImageRejected(status, reason if self.count == 1 else f"image {self.index} ({self.name}): {reason}")

    def check(self, step, *args):
        try:
            return step(*args)
        except ImageRejected as e:
            if self.count == 1:
                raise
            raise self.refused(e.status, e.reason) from None
