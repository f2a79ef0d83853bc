"""What a request body may be: one image raw or as multipart `file`, several as multipart `files`.

Refusals are ClientErrors (400 malformed or empty, 413 too many images, 415 unsupported type). The
body is read through the app's size-limit middleware, so nothing here can read more than its limit.
"""
from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from .errors import ClientError
from .limits import BodiesBusy, BodyTooLarge

MULTIPART = "multipart/form-data"
RAW_HINT = "send the image's bytes with an image/* or application/octet-stream Content-Type, or multipart/form-data with a `file` field"


def media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


async def one_image(request: Request) -> tuple[str, bytes]:
    """(a name for messages, the image's bytes) of a /v1/classify request."""
    media = media_type(request)
    if media == MULTIPART:
        form = await _read_form(request, max_files=1)
        upload = form.get("file")
        if upload is None:  # another field name is fine when it is the only file
            files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
            upload = files[0] if len(files) == 1 else None
        if not isinstance(upload, UploadFile):
            files = [k for k, v in form.multi_items() if isinstance(v, UploadFile)]
            seen = f"; it has {len(files)} file parts" if len(files) > 1 else _fields_seen(form.multi_items())
            raise ClientError(400, f"the multipart body needs a `file` field holding the image{seen}")
        return upload.filename or "file", await upload.read()
    if media is None or media.startswith("image/") or media == "application/octet-stream":
        return "body", await _read_body(request)
    raise ClientError(415, f"unsupported Content-Type {media!r}: {RAW_HINT}")


async def many_images(request: Request, max_images: int) -> list[tuple[str, bytes]]:
    """[(name, bytes)] of a /v1/classify/batch request, in the order sent."""
    media = media_type(request)
    if media != MULTIPART:
        raise ClientError(415, f"unsupported Content-Type {media!r}: send multipart/form-data with one "
                               f"`files` field per image")
    form = await _read_form(request, max_files=max_images)
    items = form.multi_items()
    uploads = [(field, v) for field, v in items if isinstance(v, UploadFile)]
    if not uploads:
        raise ClientError(400, f"no images{_fields_seen(items)}: send each image as a `files` file part "
                               "(curl -F files=@cat.png)")
    out = []
    for i, (field, upload) in enumerate(uploads):
        data = await upload.read()
        if not data:
            raise ClientError(400, f"image {i} (`{field}` part {upload.filename or '(no file name)'}) is empty: "
                                   "the part holds no bytes")
        out.append((upload.filename or f"{field}[{i}]", data))
    return out


def _fields_seen(items: list) -> str:
    """'; the form has `image` (text, not a file)' for a form whose parts are all plain text fields."""
    names = list(dict.fromkeys(field for field, _ in items))
    if not names:
        return "; the form is empty"
    return "; the form has " + ", ".join(f"`{n}`" for n in names[:5]) + " (text, not a file)"


async def _read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        raise ClientError(400, "the client disconnected before the body was complete") from None


async def _read_form(request: Request, max_files: int):
    try:
        # max_files: a form with more files is refused while parsing, before the rest is stored
        return await request.form(max_files=max_files, max_fields=16)
    except (BodyTooLarge, BodiesBusy, HTTPException):  # the limit's 413 or 503; Starlette's own 400 for a bad form
        raise
    except ClientDisconnect:
        raise ClientError(400, "the client disconnected before the body was complete") from None
    except Exception as e:  # python-multipart's parse errors: a malformed form is the client's
        from ..utils.errors import first_line

        raise ClientError(400, f"malformed multipart body: {first_line(e)}") from None
