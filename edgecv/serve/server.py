"""Running an app under uvicorn: bind first (a busy port fails at once, in one line), then serve
until SIGINT/SIGTERM, on which uvicorn stops accepting, finishes in-flight requests and runs the
app's shutdown (which drains the batcher)."""
from __future__ import annotations

import signal
import socket
import threading

from .settings import ServeSettings


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


def build_server(app, settings: ServeSettings, log_level: str = "info"):
    import uvicorn

    config = uvicorn.Config(
        app, log_level=log_level, access_log=settings.access_log, lifespan="on",
        limit_concurrency=settings.max_connections,  # connections beyond it get 503: memory stays bounded
        timeout_graceful_shutdown=settings.drain_timeout_s,  # in-flight requests get this long on shutdown
        timeout_keep_alive=5,
    )
    return uvicorn.Server(config)


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
