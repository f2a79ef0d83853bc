"""Which connections the service keeps, and for how long: slow clients cannot lock everyone out.

uvicorn's own cap (`limit_concurrency`) answers 503 to every new request, /healthz included, while
the cap's worth of connections are open, and nothing times out a request's headers or body once a
byte of it has arrived: a thousand clients that never finish a request take the service down for as
long as they like. `guarded_protocol(guard)` is uvicorn's httptools protocol with these rules instead:

- a request's headers must arrive within `header_timeout_s` (of the connection opening, or of the
  previous answer on it), its body within `body_timeout_s` of the headers; a late connection is
  answered 408 (headers) or closed (body);
- one client address holds at most `max_connections_per_client` connections; more get 503 at once;
- at `max_connections`, the connection that has waited longest for its client (no complete request
  in hand, nothing being answered) is closed to make room; only when every one is busy answering
  does a new connection get 503;
- `health_connections` more are kept for /healthz, /readyz and /metrics: a probe is answered while
  the service is full of work;
- on shutdown, an idle connection is closed after a short grace; one that has received part of a
  request, or has one waiting in its socket, gets its answer (a 503 once the batcher has stopped)
  with `Connection: close`. server.py also answers the connections still in the listen backlog.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter

import httptools
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("edgecv.serve")

HEALTH_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SHUTDOWN_IDLE_GRACE_S = 0.5  # an idle keep-alive connection's last chance to send a request at shutdown


class ConnectionGuard:
    """The rules' state, shared by every connection of one server."""

    def __init__(self, max_connections: int, per_client: int = 0, health_connections: int = 0,
                 header_timeout_s: float = 10.0, body_timeout_s: float = 30.0):
        self.max_connections = max_connections
        self.per_client = per_client
        self.health_connections = health_connections
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.open: set = set()
        self.waiting: dict = {}  # connections waiting for their client, oldest first (insertion order)
        self.per_address: Counter = Counter()
        self.shutting_down = False
        self.counts: Counter = Counter()  # refused_per_client, refused_full, evicted, header_timeout, body_timeout

    @classmethod
    def from_settings(cls, s) -> "ConnectionGuard":
        return cls(s.max_connections, s.max_connections_per_client, s.health_connections, s.header_timeout_s,
                   s.body_timeout_s)

    def admit(self, conn, address: str | None) -> tuple[str, str]:
        """('ok' | 'health' | 'refused', why) for a new connection from `address`."""
        if self.per_client and address is not None and self.per_address[address] >= self.per_client:
            self.counts["refused_per_client"] += 1
            return "refused", (f"{address} has {self.per_address[address]} connections open; the limit per "
                               f"client address is {self.per_client}")
        kind = "ok"
        if len(self.open) >= self.max_connections:
            victim = next(iter(self.waiting), None)
            if victim is not None:
                self.counts["evicted"] += 1
                victim.evict()
            elif len(self.open) < self.max_connections + self.health_connections:
                kind = "health"
            else:
                self.counts["refused_full"] += 1
                return "refused", f"the service has {len(self.open)} connections open, all busy; retry later"
        self.open.add(conn)
        if address is not None:
            self.per_address[address] += 1
        return kind, ""

    def forget(self, conn, address: str | None) -> None:
        if conn in self.open:
            self.open.discard(conn)
            if address is not None:
                self.per_address[address] -= 1
                if self.per_address[address] <= 0:
                    del self.per_address[address]
        self.waiting.pop(conn, None)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    guard: ConnectionGuard  # set on the subclass `guarded_protocol` makes for one server

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._timer = None
        self._grace = None
        self._receiving = False  # between the first byte of a request and its end
        self._address = self.client[0] if self.client else None
        kind, why = self.guard.admit(self, self._address)
        if kind == "refused":
            log.warning("connection refused: %s", why)
            self._answer_and_close(503, why, retry_after=True)
            return
        self._health_only = kind == "health"
        self._wait_for_client(self.guard.header_timeout_s, "header", restart=True)

    def connection_lost(self, exc) -> None:
        self._cancel_timers()
        self.guard.forget(self, self._address)
        super().connection_lost(exc)

    # ---- the request's phases

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._receiving = True

    def on_headers_complete(self) -> None:
        path = httptools.parse_url(self.url).path.decode("latin-1") if self.url else ""
        if getattr(self, "_health_only", False) and path not in HEALTH_PATHS:
            app, self.app = self.app, service_unavailable  # a slot kept for probes: other requests get 503
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        else:
            super().on_headers_complete()
        if self.guard.shutting_down and self.cycle is not None:
            self.cycle.keep_alive = False  # answered, then closed
        if self in self.guard.waiting:
            self._wait_for_client(self.guard.body_timeout_s, "body", restart=False)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._receiving = False
        self.guard.waiting.pop(self, None)  # a whole request: the service's turn, no client timeout
        self._cancel_timer()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # super() starts the next queued request, if any
        super().on_response_complete()
        if self.transport.is_closing() or self._receiving or pipelined:
            return  # closing; or the next request has begun and is the service's turn or tracked already
        self._wait_for_client(self.guard.header_timeout_s, "header", restart=True)

    # ---- timeouts and eviction

    def _wait_for_client(self, timeout_s: float, phase: str, restart: bool) -> None:
        if restart:  # a new wait: to the back of the line
            self.guard.waiting.pop(self, None)
            self.guard.waiting[self] = time.monotonic()
        self._cancel_timer()
        self._timer = self.loop.call_later(timeout_s, self._late, phase)

    def _late(self, phase: str) -> None:
        self._timer = None
        if self not in self.guard.waiting or self.transport.is_closing():
            return
        self.guard.counts[f"{phase}_timeout"] += 1
        if phase == "header" and (self.cycle is None or self.cycle.response_complete):
            limit = self.guard.header_timeout_s
            self._answer_and_close(408, f"the request's headers did not arrive within {limit:g} s")
        else:
            self.transport.close()  # mid-body: the app is reading it; the close tells it the client is gone

    def evict(self) -> None:
        """Closed to make room for a new connection (this one waited longest for its client)."""
        self.guard.waiting.pop(self, None)
        self._cancel_timers()
        if self.cycle is None or self.cycle.response_complete:
            self._answer_and_close(503, "the service is at its connection limit and this connection was idle",
                                   retry_after=True)
        else:
            self.transport.close()

    def _answer_and_close(self, status: int, detail: str, retry_after: bool = False) -> None:
        body = json.dumps({"detail": detail}).encode()
        head = [f"HTTP/1.1 {status} {'Request Timeout' if status == 408 else 'Service Unavailable'}",
                "content-type: application/json", f"content-length: {len(body)}", "connection: close"]
        if retry_after:
            head.append("retry-after: 1")
        if not self.transport.is_closing():
            self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cancel_timers(self) -> None:
        self._cancel_timer()
        if getattr(self, "_grace", None) is not None:
            self._grace.cancel()
            self._grace = None

    # ---- shutdown

    def shutdown(self) -> None:
        """Called by uvicorn when shutdown begins: a request that has begun (bytes received, or waiting
        in the socket) is answered; an idle connection gets a short grace, then is closed."""
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # uvicorn's own behaviour: answer, then close
            return
        if self._receiving or self._socket_has_data():
            return  # on_headers_complete turns keep-alive off; the answer closes it
        self._grace = self.loop.call_later(SHUTDOWN_IDLE_GRACE_S, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._grace = None
        idle = (self.cycle is None or self.cycle.response_complete) and not self._receiving
        if idle and not self._socket_has_data() and not self.transport.is_closing():
            self.transport.close()

    def _socket_has_data(self) -> bool:
        """Whether the client has sent bytes not read yet (MSG_PEEK on a duplicate of the socket)."""
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            dup = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return False
        try:
            dup.setblocking(False)  # the duplicate shares the socket: the flag is the same for both (already off)
            return bool(dup.recv(1, socket.MSG_PEEK))
        except OSError:  # BlockingIOError: nothing there
            return False
        finally:
            dup.close()


def guarded_protocol(guard: ConnectionGuard) -> type:
    """The protocol class (for uvicorn.Config(http=...)) bound to `guard`."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
