"""Running an app under uvicorn: bind first (a busy port fails at once, in one line), then serve
until SIGINT/SIGTERM. On that signal the server stops accepting, tells the app (its
`state.begin_shutdown`: the batcher drains, and what cannot run in time gets a 503), waits for the
open requests to be answered, then runs the app's shutdown."""
from __future__ import annotations

import signal
import socket
import threading

import uvicorn

from .settings import ServeSettings

SHUTDOWN_MARGIN_S = 5.0  # after the drain timeout, time to send the last answers before uvicorn drops connections


class DrainingServer(uvicorn.Server):
    """uvicorn's Server that calls `app.state.begin_shutdown()` as soon as shutdown begins."""

    def __init__(self, config: uvicorn.Config, app):
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets=None):
        begin = getattr(getattr(self._app, "state", None), "begin_shutdown", None)
        if begin is not None:
            begin()
        await super().shutdown(sockets)


class _Stopped(Exception):
    pass


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for `host:port` (port 0: a free one, see `sock.getsockname()`)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise RuntimeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def build_server(app, settings: ServeSettings, log_level: str = "info") -> DrainingServer:
    config = uvicorn.Config(
        app, log_level=log_level, access_log=settings.access_log, lifespan="on",
        limit_concurrency=settings.max_connections,  # connections beyond it get 503: memory stays bounded
        timeout_graceful_shutdown=settings.drain_timeout_s + SHUTDOWN_MARGIN_S,
        timeout_keep_alive=5,
    )
    return DrainingServer(config, app)


def run_server(app, settings: ServeSettings, sock: socket.socket | None = None, log_level: str = "info") -> None:
    """Serve `app` until stopped. A SIGTERM or Ctrl-C ends it gracefully and returns normally."""
    sock = sock or bind_socket(settings.host, settings.port)
    server = build_server(app, settings, log_level)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the handler that
    # was there before it; that handler ends the call quietly, so a stopped service exits 0
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        server.run(sockets=[sock])
    except _Stopped:
        pass
    except SystemExit as e:  # uvicorn exits the process when the app's startup fails
        raise RuntimeError(f"the server failed to start (exit {e.code}); see the log above") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()


def _raise_stopped(signum, frame):
    raise _Stopped()
