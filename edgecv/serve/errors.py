"""The one exception type for a refused request: the app turns it into JSON {"detail": reason}."""
from __future__ import annotations


class ClientError(Exception):
    """A 4xx: `status` and a one-line `reason` the client can act on."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
