"""The service's knobs in one validated object: the CLI fills it from flags, tests build it directly."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    max_connections: int = Field(1024, ge=1, description="uvicorn's limit_concurrency: open connections + tasks")
    drain_timeout_s: float = Field(10.0, ge=0, description="on shutdown, how long queued work may take to finish")
    access_log: bool = False

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def batching(self) -> bool:
        return self.max_batch > 1

    @model_validator(mode="after")
    def _a_batch_request_fits_the_queue(self):
        # a request is admitted whole or not at all, so one larger than the queue could never run
        if self.max_images_per_request > self.queue_size:
            raise ValueError(f"max_images_per_request ({self.max_images_per_request}) must not exceed "
                             f"queue_size ({self.queue_size})")
        return self
