"""The service's knobs in one validated object: the CLI fills it from flags, tests build it directly."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


CONNECTION_BYTES = 32 * 1024  # an open connection's memory, with room: 1,000 idle ones measured about 16 MiB


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="0 picks a free port")
    max_batch: int = Field(1, ge=1, le=4096, description="images per runner call; 1 turns dynamic batching off")
    max_wait_ms: float = Field(2.0, ge=0, le=60_000, description="how long the oldest queued image may wait for a batch to fill")
    queue_size: int = Field(256, ge=1, description="images admitted and waiting for the runner; beyond it: 503")
    max_body_mb: float = Field(10.0, gt=0, description="largest request body; beyond it: 413 before it is read")
    max_pixels: int = Field(40_000_000, ge=1, description="largest decoded image (width x height); beyond it: 413")
    max_aspect_ratio: float = Field(20.0, ge=1, description="long side / short side; beyond it: 400")
    max_images_per_request: int = Field(32, ge=1, description="images in one /v1/classify/batch request")
    default_topk: int = Field(5, ge=1)
    retry_after_s: int = Field(1, ge=1, description="the Retry-After a 503 carries")
    decode_budget_mb: float = Field(512.0, gt=0, description="memory for decoding images, all requests together "
                                    "(an image alone over it: 413; waiting longer than decode_wait_s for it: 503)")
    decode_wait_s: float = Field(5.0, ge=0, description="how long a request may wait for the decode budget")
    body_budget_mb: float = Field(256.0, gt=0, description="request bodies held in memory, all requests together; "
                                  "beyond it: 503")
    max_connections: int = Field(4096, ge=1, description="open connections (about 16 KiB each when idle); at the cap, "
                                 "the one that has waited longest for its client to finish a request is closed, else "
                                 "the new one gets 503")
    max_connections_per_client: int = Field(64, ge=0, description="open connections from one client address; "
                                            "beyond it: 503 (0: no cap; behind a proxy every client has its address)")
    health_connections: int = Field(16, ge=0, description="connections beyond max_connections kept for /healthz, "
                                    "/readyz and /metrics")
    header_timeout_s: float = Field(10.0, gt=0, description="a connection must send a request's headers within this")
    body_timeout_s: float = Field(30.0, gt=0, description="and its body within this after the headers")
    drain_timeout_s: float = Field(10.0, ge=0, description="on shutdown, how long queued work may take to finish")
    access_log: bool = False

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def decode_budget_bytes(self) -> int:
        return int(self.decode_budget_mb * 1024 * 1024)

    @property
    def body_budget_bytes(self) -> int:
        return int(self.body_budget_mb * 1024 * 1024)

    @property
    def memory_bound_bytes(self) -> int:
        """What the service may hold beyond its memory when ready (model loaded and warmed up): the
        decode budget, the body budget twice (a body's bytes, and the form parser's copy of its files),
        and CONNECTION_BYTES per connection it keeps open. The README documents it;
        benchmarks/serve_limits.py measures it."""
        connections = self.max_connections + self.health_connections
        return self.decode_budget_bytes + 2 * self.body_budget_bytes + connections * CONNECTION_BYTES

    @property
    def batching(self) -> bool:
        return self.max_batch > 1

    @model_validator(mode="after")
    def _a_batch_request_fits_the_queue(self):
        # a request is admitted whole or not at all, so one larger than the queue could never run
        if self.max_images_per_request > self.queue_size:
            raise ValueError(f"max_images_per_request ({self.max_images_per_request}) must not exceed "
                             f"queue_size ({self.queue_size})")
        if self.body_budget_bytes < self.max_body_bytes:  # else the largest allowed body could never be read
            raise ValueError(f"body_budget_mb ({self.body_budget_mb:g}) must be at least max_body_mb ({self.max_body_mb:g})")
        return self
