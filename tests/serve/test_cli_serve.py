"""`edgecv serve` as a user runs it: a real process, SIGTERM with requests in flight, one-line errors."""
from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from edgecv.cli import main
from tests.serve.conftest import png_bytes, wait_ready

pytest.importorskip("fastapi", reason="the serve extra is not installed")


def _lines(proc: subprocess.Popen) -> tuple["queue.Queue[str]", threading.Thread]:
    """The process's output lines as they come (a reader thread, so a read never blocks the test)."""
    out: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [out.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    return out, reader


def _queue_depth(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    return float(re.search(r"^edgecv_queue_depth (\S+)$", text, re.M).group(1))


def test_sigterm_finishes_queued_requests_then_the_process_exits_0(artifact):
    """Three requests wait in the batcher (a batch of 8 that has 3 s to fill) when SIGTERM arrives:
    the server stops accepting, runs the partial batch at once, answers all three (200, one runner
    call), refuses new connections, and exits 0."""
    proc = subprocess.Popen([sys.executable, "-m", "edgecv", "serve", str(artifact.path), "--port", "0", "--threads", "1",
                             "--max-batch", "8", "--max-wait-ms", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, reader = _lines(proc)
    try:
        first = lines.get(timeout=120)
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", first).group(1)
        assert "dynamic batching up to 8 within 3000 ms" in first
        wait_ready(url)
        with ThreadPoolExecutor(3) as pool:
            pending = [pool.submit(httpx.post, url + "/v1/classify", content=png_bytes(seed=s),
                                   headers={"Content-Type": "image/png"}, timeout=30) for s in range(3)]
            deadline = time.monotonic() + 10
            while _queue_depth(url) < 3:
                assert time.monotonic() < deadline, "the requests never queued"
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            answers = [f.result() for f in pending]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert {a.json()["batch_size"] for a in answers} == {3}
        assert proc.wait(timeout=30) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=5)
        reader.join(10)
        output = "".join(list(lines.queue))
        assert "Shutting down" in output and output.rstrip().endswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_errors_are_one_line_without_traceback(artifact, tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing.onnx"), "--port", "0"]) == 2
    out = capsys.readouterr().out
    assert "error:" in out and "missing.onnx" in out and "Traceback" not in out

    assert main(["serve", str(artifact.path), "--max-wait-ms", "5"]) == 2
    assert "--max-wait-ms needs --max-batch > 1" in capsys.readouterr().out

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(artifact.path), "--port", str(port)]) == 2
    out = capsys.readouterr().out
    assert f"cannot listen on 127.0.0.1:{port}" in out and "Traceback" not in out

    for bad in (["--port", "70000"], ["--max-body-mb", "0"], ["--max-batch", "0"], ["--max-wait-ms", "-1"]):
        with pytest.raises(SystemExit) as e:
            main(["serve", str(artifact.path), *bad])
        assert e.value.code == 2


def test_a_missing_serve_extra_says_what_to_install(artifact, monkeypatch, capsys):
    import edgecv.serve

    real = edgecv.serve.find_spec
    monkeypatch.setattr(edgecv.serve, "find_spec", lambda name: None if name == "fastapi" else real(name))
    assert main(["serve", str(artifact.path), "--port", "0"]) == 2
    assert "needs fastapi: pip install 'edgecv[serve]'" in capsys.readouterr().out


def test_sigterm_under_load_answers_every_request_sent_before_it(artifact):
    """48 clients post as fast as they can, half on keep-alive connections, half on a new connection per
    request; SIGTERM lands in the middle. Every request a client had sent before the signal gets an
    answer: its result, or 503 once the batcher has stopped. None is dropped with its connection
    (requests in the server's socket buffers, on idle keep-alive connections, or on connections still
    in the listen backlog)."""
    import http.client

    proc = subprocess.Popen([sys.executable, "-m", "edgecv", "serve", str(artifact.path), "--port", "0", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, reader = _lines(proc)
    body = png_bytes(seed=1)
    signalled = threading.Event()
    signal_at = [float("inf")]
    outcomes: list[tuple[float, object]] = []  # (when the request was sent, status or exception name)

    def client(keep_alive: bool):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Content-Type": "image/png", **({} if keep_alive else {"Connection": "close"})}
        stop_after = None
        while stop_after is None or time.monotonic() < stop_after:
            sent = time.monotonic()
            try:
                conn.request("POST", "/v1/classify", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                outcomes.append((sent, response.status))
            except ConnectionRefusedError:
                outcomes.append((sent, "refused"))
                break  # the server has stopped listening
            except (OSError, http.client.HTTPException) as e:
                outcomes.append((sent, type(e).__name__))
                conn.close()
            if signalled.is_set() and stop_after is None:
                stop_after = time.monotonic() + 3

    try:
        first = lines.get(timeout=120)
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", first).group(1)
        host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
        wait_ready(url)
        with ThreadPoolExecutor(48) as pool:
            workers = [pool.submit(client, i % 2 == 0) for i in range(48)]
            time.sleep(1.5)
            signal_at[0] = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            signalled.set()
            for w in workers:
                w.result(timeout=60)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    before = [outcome for sent, outcome in outcomes if sent < signal_at[0]]
    assert len(before) > 48 and 200 in before
    dropped = [o for o in before if o not in (200, 503)]
    assert not dropped, f"{len(dropped)} of {len(before)} requests sent before SIGTERM got no answer: {dropped[:5]}"
