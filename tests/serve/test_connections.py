"""Slow clients on loopback (raw sockets) cannot lock the service or its /healthz out: header and body
timeouts, a connection cap per client address, eviction of idle connections at the cap, room for probes."""
from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest

from tests.serve.conftest import GatedPredictor, live_server, png_bytes

pytest.importorskip("fastapi", reason="the serve extra is not installed")

PNG = {"Content-Type": "image/png"}
PARTIAL_HEADERS = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"  # never finished


def _connect(url: str, source: str = "127.0.0.1") -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10, source_address=(source, 0))
    return sock


def _slow(url: str, source: str = "127.0.0.1", data: bytes = PARTIAL_HEADERS) -> socket.socket:
    sock = _connect(url, source)
    sock.sendall(data)
    return sock


def _answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """What the server sends before it closes the connection (b'' when it closes without a word)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while chunk := sock.recv(4096):
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return out


def test_a_request_whose_headers_never_finish_gets_408_and_is_closed(predictor):
    with live_server(predictor, header_timeout_s=1.0) as live:
        start = time.monotonic()
        with _slow(live.url) as sock:
            reply = _answer(sock)
        assert reply.startswith(b"HTTP/1.1 408") and b"headers did not arrive within 1 s" in reply
        assert 0.9 < time.monotonic() - start < 8
        with _connect(live.url) as idle:  # a byte a second does not keep it open either
            for b in PARTIAL_HEADERS[:4]:
                idle.sendall(bytes([b]))
                time.sleep(0.4)
            assert _answer(idle).startswith(b"HTTP/1.1 408")
        assert live.app.state.connections.counts["header_timeout"] == 2


def test_a_body_that_never_finishes_is_cut_off(predictor):
    with live_server(predictor, body_timeout_s=1.0) as live:
        head = PARTIAL_HEADERS + b"Content-Length: 1000\r\n\r\n\x89PNG"
        start = time.monotonic()
        with _slow(live.url, data=head) as sock:
            _answer(sock)  # closed (the app was reading the body: no status line can be sent)
        assert 0.9 < time.monotonic() - start < 8
        assert live.app.state.connections.counts["body_timeout"] == 1
        assert httpx.post(live.url + "/v1/classify", content=png_bytes(), headers=PNG).status_code == 200


def test_one_client_address_holds_at_most_its_share(predictor):
    with live_server(predictor, max_connections_per_client=5) as live, ExitStack() as stack:
        held = [stack.enter_context(_slow(live.url, "127.0.0.2")) for _ in range(5)]
        time.sleep(0.2)
        with _slow(live.url, "127.0.0.2") as sixth:
            reply = _answer(sixth)
        assert reply.startswith(b"HTTP/1.1 503") and b"127.0.0.2 has 5 connections open" in reply
        assert b"retry-after: 1" in reply.lower()
        assert httpx.post(live.url + "/v1/classify", content=png_bytes(), headers=PNG).status_code == 200  # 127.0.0.1
        assert len(held) == 5


def test_connections_that_never_finish_a_request_do_not_lock_everyone_out(predictor):
    """The issue's case, scaled to a cap of 40: 60 connections (from 6 addresses) that never finish their
    headers, with a header timeout far away. New requests and /healthz are still answered: each new
    connection closes the one that has waited longest for its client."""
    with live_server(predictor, max_connections=40) as live, ExitStack() as stack:  # header timeout: 10 s
        slow = [stack.enter_context(_slow(live.url, f"127.0.0.{2 + i % 6}")) for i in range(60)]
        time.sleep(0.3)
        for _ in range(3):
            assert httpx.get(live.url + "/healthz", timeout=10).status_code == 200
            r = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers=PNG, timeout=30)
            assert r.status_code == 200, r.text
        with live.client() as keep_alive:  # a well-behaved client keeps its connection while slow ones come
            assert keep_alive.post("/v1/classify", content=png_bytes(), headers=PNG).status_code == 200
            more = [stack.enter_context(_slow(live.url, "127.0.0.9")) for _ in range(30)]
            time.sleep(0.3)
            assert keep_alive.post("/v1/classify", content=png_bytes(), headers=PNG).status_code == 200
        guard = live.app.state.connections
        assert len(guard.open) <= 40 + 1 and guard.counts["evicted"] >= 60 + 30 - 40
        assert len(slow) + len(more) == 90


def test_healthz_is_answered_when_every_connection_is_busy(predictor):
    """4 connections, each with a request the (blocked) runner holds: a probe gets one of the slots kept
    for health checks; a classify request on such a slot gets 503."""
    gated = GatedPredictor(predictor)
    with live_server(gated, max_connections=4, queue_size=8, max_images_per_request=8) as live:
        gated.close()
        post = lambda _: httpx.post(live.url + "/v1/classify", content=png_bytes(), headers=PNG, timeout=60)  # noqa: E731
        with ThreadPoolExecutor(4) as pool:
            busy = [pool.submit(post, i) for i in range(4)]
            deadline = time.monotonic() + 20
            while live.app.state.batcher.depth < 3:  # one in the runner, three queued
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert httpx.get(live.url + "/healthz", timeout=10).status_code == 200
            assert httpx.get(live.url + "/readyz", timeout=10).status_code == 200
            refused = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers=PNG, timeout=10)
            assert refused.status_code == 503
            gated.open()
            assert [f.result().status_code for f in busy] == [200] * 4
