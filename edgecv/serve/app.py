"""`create_app(predictor, settings)`: the FastAPI app of the classification service.

    POST /v1/classify        one image (raw body or multipart `file`) -> top-k, model, latency
    POST /v1/classify/batch  several images (multipart `files`)
    GET  /healthz            liveness: the process answers
    GET  /readyz             readiness: the model is loaded and a warm-up inference has run
    GET  /metrics            Prometheus text
    GET  /openapi.json, /docs

The predictor is loaded once by the caller; one worker thread runs it (the batcher), so inference
never blocks the event loop. Shutdown stops new work and drains the queue within a deadline.
"""
from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from . import uploads
from .batcher import DynamicBatcher, QueueFull, ShuttingDown
from .budget import Busy, ByteBudget
from .classifier import Classifier
from .errors import ClientError, InferenceFailed
from .limits import BodySizeLimit
from .metrics import RequestMetrics, ServiceMetrics
from .schemas import BatchClassification, Classification, Health, batch_body, error_responses, single_image_body
from .settings import ServeSettings


def create_app(predictor, settings: ServeSettings | None = None) -> FastAPI:
    """The app over a loaded Predictor (anything with its `preprocess`, `logits`, `class_names`,
    `name`, `image_size` and `artifact`). Its batcher starts and stops with the app's lifespan."""
    settings = settings or ServeSettings()
    metrics = ServiceMetrics()
    batcher = DynamicBatcher(predictor.logits, settings.max_batch, settings.max_wait_ms / 1000,
                             settings.queue_size, on_batch=metrics.observe_batch)
    metrics.track_queue(lambda: batcher.depth)
    classifier = Classifier(predictor, batcher, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # warm-up runs on the worker thread while the server already answers /healthz; /readyz waits for it
        batcher.start(warmup_input=classifier.warmup_input())
        yield
        await run_in_threadpool(batcher.stop, settings.drain_timeout_s)  # a no-op when begin_shutdown ran

    def begin_shutdown() -> None:
        """Called by the server (server.py) the moment it stops accepting, before it waits for open
        requests: the batcher flushes what is queued at once, and what cannot run within the drain
        timeout is answered 503, instead of the connection being dropped when the server gives up."""
        threading.Thread(target=batcher.stop, args=(settings.drain_timeout_s,), name="edgecv-drain", daemon=True).start()

    app = FastAPI(title="edgecv classifier", version="1", lifespan=lifespan,
                  description=f"Image classification with {classifier.info.model} "
                              f"({classifier.info.backend}, {classifier.info.precision}).")
    app.state.settings, app.state.batcher, app.state.metrics = settings, batcher, metrics
    app.state.begin_shutdown = begin_shutdown
    app.state.decode_budget = classifier.budget
    app.state.body_budget = ByteBudget(settings.body_budget_bytes, 0, "memory for request bodies")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, budget=app.state.body_budget)
    app.add_middleware(RequestMetrics, metrics=metrics)  # added last = outermost: it also counts the 413s
    _add_error_handlers(app, settings)
    info = classifier.info.model_dump()
    topk_query = Query(settings.default_topk, ge=1, le=1000, description="labels to return (at most the model's classes)")

    @app.post("/v1/classify", response_model=Classification, openapi_extra=single_image_body(),
              responses=error_responses(400, 413, 415, 500, 503), summary="Classify one image")
    async def classify(request: Request, topk: int = topk_query) -> Classification:
        start = time.perf_counter()
        image = await uploads.one_image(request)
        (result,) = await classifier.classify([image], topk)
        body = Classification(**info, **result.model_dump(), latency_ms=_ms_since(start))
        return _json(body)

    @app.post("/v1/classify/batch", response_model=BatchClassification,
              openapi_extra=batch_body(settings.max_images_per_request),
              responses=error_responses(400, 413, 415, 500, 503), summary="Classify several images")
    async def classify_batch(request: Request, topk: int = topk_query) -> BatchClassification:
        start = time.perf_counter()
        images = await uploads.many_images(request, settings.max_images_per_request)
        results = await classifier.classify(images, topk)
        return _json(BatchClassification(**info, results=results, latency_ms=_ms_since(start)))

    @app.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "not ready yet"}},
             summary="Readiness: model loaded and warmed up")
    async def readyz():
        if batcher.ready:
            return Health(status="ready")
        why = batcher.warmup_error or ("shutting down" if batcher.closed else "warming up")
        return JSONResponse({"status": why}, status_code=503)

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}})
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return app


def _add_error_handlers(app: FastAPI, settings: ServeSettings) -> None:
    retry = {"Retry-After": str(settings.retry_after_s)}

    @app.exception_handler(ClientError)
    async def client_error(request: Request, e: ClientError):
        return JSONResponse({"detail": e.reason}, status_code=e.status)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, e: QueueFull):
        return JSONResponse({"detail": f"busy: {e}; retry later"}, status_code=503, headers=retry)

    @app.exception_handler(Busy)
    async def busy(request: Request, e: Busy):
        return JSONResponse({"detail": f"busy: {e}; retry later"}, status_code=503, headers=retry)

    @app.exception_handler(InferenceFailed)
    async def inference_failed(request: Request, e: InferenceFailed):
        return JSONResponse({"detail": str(e)}, status_code=500)

    @app.exception_handler(ShuttingDown)
    async def shutting_down(request: Request, e: ShuttingDown):
        return JSONResponse({"detail": str(e)}, status_code=503, headers=retry | {"Connection": "close"})


def _json(body) -> Response:
    """The model, already validated when it was built, as JSON. Returning a Response skips FastAPI's
    second validation and encoding pass through `response_model`, which stays for the OpenAPI schema:
    on a thumbnail that pass cost about a tenth of the service's time per request."""
    return Response(body.model_dump_json(), media_type="application/json")


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
