"""The service's own failures; the app turns each into JSON {"detail": reason}."""
from __future__ import annotations


class ClientError(Exception):
    """A 4xx: `status` and a one-line `reason` the client can act on."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class InferenceFailed(Exception):
    """The runner raised (a 500: the server's fault, not the request's); the message is its first line."""
