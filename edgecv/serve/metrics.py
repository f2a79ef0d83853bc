"""Prometheus metrics of one app, in its own CollectorRegistry (several apps may share a process):
requests by endpoint and status, request latency, queue depth, images per runner call, runner time.
"""
from __future__ import annotations

import time
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# label values are these paths or "other": a scanner's made-up URLs must not create new series
ENDPOINTS = frozenset({"/v1/classify", "/v1/classify/batch", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("edgecv_requests", "HTTP requests by endpoint and status code",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("edgecv_request_latency_seconds", "Time from request to the end of the response",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("edgecv_queue_depth", "Images waiting for the runner", registry=self.registry)
        self.batch_size = Histogram("edgecv_batch_size", "Images per runner call", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.inference = Histogram("edgecv_inference_seconds", "Duration of one runner call",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)

    def track_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)  # read at scrape time: always current, nothing to update

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetrics:
    """Pure ASGI middleware counting every response, including those other middleware sends (413)."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"
        status = 500  # what the server answers when the app raises before responding
        start = time.perf_counter()

        async def recording_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
