"""A pure ASGI middleware that refuses request bodies over a size limit with 413, before reading them.

Two checks, because a client need not say how much it sends: a Content-Length over the limit is
answered at once, without reading a byte of the body; a body without one (chunked) is counted as it
streams in, and refused as soon as the count passes the limit. Either way no more than the limit is
ever held in memory. Any app, any route: nothing here knows about images.

With a byte budget, the bodies of all requests together are bounded too: each chunk is counted
against it as it arrives and given back when its request ends; a chunk that does not fit is a 503.
"""
from __future__ import annotations

import json


class BodyTooLarge(Exception):
    pass


class BodiesBusy(Exception):
    """The bodies of the requests in progress fill their budget: a 503."""


class BodySizeLimit:
    def __init__(self, app, max_bytes: int, budget=None):
        """`budget` (a ByteBudget, optional): bodies of all requests together; each chunk is counted as it
        arrives (so a slow client holds only what it has sent) and given back when the request ends; a
        chunk that does not fit gets 503 + Retry-After."""
        self.app = app
        self.max_bytes = max_bytes
        self.budget = budget

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared == -1:
            return await send_json(send, 400, "invalid Content-Length header")
        if declared is not None and declared > self.max_bytes:
            return await send_json(send, 413, self._too_large(f"Content-Length is {declared:,} bytes"))

        received = held = 0
        started = False

        async def counting_receive():
            nonlocal received, held
            message = await receive()
            if message["type"] == "http.request":
                n = len(message.get("body", b""))
                received += n
                if received > self.max_bytes:
                    raise BodyTooLarge(self._too_large(f"more than {self.max_bytes:,} bytes were sent"))
                if self.budget is not None and n:
                    if not self.budget.try_take(n):
                        raise BodiesBusy(f"busy: {_mib(self.budget.used)} of request bodies are being read "
                                         f"(the limit is {_mib(self.budget.total)}); retry later")
                    held += n
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as e:
            if started:  # too late for a status: the server drops the connection
                raise
            await send_json(send, 413, str(e))
        except BodiesBusy as e:
            if started:
                raise
            await send_json(send, 503, str(e), retry_after=1)
        finally:
            if held:
                self.budget.give_back(held)

    def _too_large(self, what: str) -> str:
        return f"request body too large: {what}; the limit is {self.max_bytes:,} bytes ({self.max_bytes / 2**20:g} MiB)"


def _content_length(scope) -> int | None:
    """The declared body size; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                n = int(value)
            except ValueError:
                return -1
            return n if n >= 0 else -1
    return None


async def send_json(send, status: int, detail: str, retry_after: int | None = None) -> None:
    """A complete JSON error response `{"detail": ...}`, sent from the ASGI level; `Connection: close`
    because the unread rest of the body would otherwise be taken for the next request."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
