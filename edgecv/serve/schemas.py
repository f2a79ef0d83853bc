"""The JSON the service answers with, and the request bodies it documents in its OpenAPI schema."""
from __future__ import annotations

from pydantic import BaseModel, Field

# raw bodies: any image/* type or plain bytes; multipart: a `file` field (one image) or `files` (several)
RAW_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff", "application/octet-stream")
BINARY = {"type": "string", "format": "binary"}


class Label(BaseModel):
    label: str
    score: float = Field(description="softmax probability")
    index: int = Field(description="the model's output index")


class ImageResult(BaseModel):
    predictions: list[Label] = Field(description="top-k, best first")
    batch_size: int = Field(description="images in the runner call this image shared (dynamic batching)")
    inference_ms: float = Field(description="that runner call's duration")


class ModelInfo(BaseModel):
    model: str
    precision: str
    backend: str


class Classification(ModelInfo, ImageResult):
    latency_ms: float = Field(description="server time from the request's arrival to this answer")


class BatchClassification(ModelInfo):
    results: list[ImageResult] = Field(description="one per image, in the order sent")
    latency_ms: float


class Error(BaseModel):
    detail: str = Field(description="why the request was refused")


class Health(BaseModel):
    status: str


ERRORS = {
    400: "not an image, a truncated or empty image, a malformed form, or too many images",
    413: "the body is over the size limit, or the image over the pixel limit",
    415: "unsupported Content-Type",
    500: "the runner failed on this batch",
    503: "the queue is full or the service is shutting down: retry after Retry-After seconds",
}


def error_responses(*codes: int) -> dict:
    out = {}
    for code in codes:
        out[code] = {"model": Error, "description": ERRORS[code]}
    if 503 in codes:
        out[503]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return out


def single_image_body() -> dict:
    """openapi_extra for /v1/classify: the body is read by hand (raw or multipart), so it is described here."""
    multipart = {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}
    content = {"multipart/form-data": {"schema": multipart}} | {t: {"schema": BINARY} for t in RAW_IMAGE_TYPES}
    return {"requestBody": {"required": True, "content": content,
                            "description": "one image: its bytes with an image/* Content-Type (or "
                                           "application/octet-stream), or multipart/form-data with a `file` field"}}


def batch_body(max_images: int) -> dict:
    multipart = {"type": "object", "required": ["files"],
                 "properties": {"files": {"type": "array", "items": BINARY, "minItems": 1, "maxItems": max_images}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": multipart}},
                            "description": f"up to {max_images} images as multipart/form-data `files` fields"}}
