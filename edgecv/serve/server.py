"""Running an app under uvicorn: bind first (a busy port fails at once, in one line), then serve
until SIGINT/SIGTERM. Connections follow connections.py's rules (timeouts, a cap per client address,
room kept for /healthz). On the signal the server tells the app (its `state.begin_shutdown`: the
batcher drains, and what cannot run in time gets a 503), answers what clients already sent, the
connections still waiting in the listen backlog included, stops accepting, waits for the open
requests to be answered, then runs the app's shutdown."""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading

import uvicorn

from .connections import ConnectionGuard, guarded_protocol
from .settings import ServeSettings

SHUTDOWN_MARGIN_S = 5.0  # after the drain timeout, time to send the last answers before uvicorn drops connections
MAX_BACKLOG_ADOPTED = 4096  # connections taken from the listen backlog at shutdown, at most

log = logging.getLogger("edgecv.serve")


class DrainingServer(uvicorn.Server):
    """uvicorn's Server that calls `app.state.begin_shutdown()` as soon as shutdown begins, and answers
    the connections the kernel accepted before the signal but the server had not taken yet."""

    def __init__(self, config: uvicorn.Config, app, guard: ConnectionGuard | None = None):
        super().__init__(config)
        self._app = app
        self.guard = guard

    async def shutdown(self, sockets=None):
        if self.guard is not None:
            self.guard.shutting_down = True
        begin = getattr(getattr(self._app, "state", None), "begin_shutdown", None)
        if begin is not None:
            begin()
        await self._adopt_backlog(sockets or [])
        await super().shutdown(sockets)

    async def _adopt_backlog(self, sockets: list[socket.socket]) -> None:
        """Closing a listening socket resets the connections waiting in its backlog: their clients have
        connected (and may have sent a request) before the signal. Take them first; uvicorn's shutdown
        then answers what they sent, or closes them."""
        loop = asyncio.get_running_loop()
        config, state = self.config, self.server_state

        def protocol():
            return config.http_protocol_class(config=config, server_state=state, app_state=self.lifespan.state,
                                              _loop=loop)

        adopted = 0
        for sock in sockets:
            while adopted < MAX_BACKLOG_ADOPTED:
                try:
                    conn, _ = sock.accept()
                except OSError:  # BlockingIOError: the backlog is empty
                    break
                conn.setblocking(False)
                try:
                    await loop.connect_accepted_socket(protocol, conn)
                    adopted += 1
                except OSError:
                    conn.close()
        if adopted:
            log.info("shutdown: answering %d connection(s) from the listen backlog", adopted)


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
    guard = ConnectionGuard.from_settings(settings)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=settings.access_log, lifespan="on",
        http=guarded_protocol(guard),  # the connection cap, per-client cap and timeouts: connections.py
        limit_concurrency=None,  # uvicorn's cap would answer /healthz 503 too: the guard replaces it
        timeout_graceful_shutdown=settings.drain_timeout_s + SHUTDOWN_MARGIN_S,
        timeout_keep_alive=5,
    )
    if hasattr(app, "state"):
        app.state.connections = guard
    raise_open_files_limit(settings.max_connections + settings.health_connections + 64)
    return DrainingServer(config, app, guard)


def raise_open_files_limit(wanted: int) -> None:
    """Every connection is a file descriptor: raise the soft limit (often 1,024) toward `wanted`, within
    the hard limit; say so when the hard limit is lower."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    if target < wanted:
        log.warning("open files are limited to %d here; fewer connections than --max-connections fit", target)


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
