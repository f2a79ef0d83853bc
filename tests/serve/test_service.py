"""The REST service, started for real (uvicorn on a loopback port) and called over HTTP: valid images
(raw and multipart, one and several), every kind of bad input, metrics, backpressure and batching."""
from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.serve.conftest import CIFAR_CLASSES, CLASSES, GatedPredictor, live_server, png_bytes

pytest.importorskip("fastapi", reason="the serve extra is not installed")

PNG = {"Content-Type": "image/png"}


@pytest.fixture(scope="module")
def live(predictor):
    """One server for the tests that only read its answers (1 MiB body limit, 1 Mpx pixel limit)."""
    with live_server(predictor, max_body_mb=1, max_pixels=1_000_000, max_images_per_request=4) as live:
        yield live


def _top(predictions: list[dict]) -> tuple[str, float]:
    return predictions[0]["label"], predictions[0]["score"]


@pytest.mark.parametrize("size", [(48, 40), (320, 240)], ids=["thumbnail, decoded inline", "larger, decoded on a thread"])
def test_one_image_raw_and_multipart_match_the_predictor(live, predictor, size):
    data = png_bytes(*size, seed=1)
    expected = predictor.predict(Image.open(io.BytesIO(data)), k=3)
    with live.client() as c:
        raw = c.post("/v1/classify", content=data, headers=PNG, params={"topk": 3})
        form = c.post("/v1/classify", files={"file": ("x.png", data, "image/png")}, params={"topk": 3})
        octet = c.post("/v1/classify", content=data, headers={"Content-Type": "application/octet-stream"})
    for r in (raw, form, octet):
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["model"], body["precision"], body["backend"]) == ("cifar_resnet8", "fp32", "onnxruntime")
        assert body["latency_ms"] > 0 and body["inference_ms"] > 0 and body["batch_size"] == 1
        assert [p["label"] for p in body["predictions"][:3]] == expected.labels
        assert body["predictions"][0]["score"] == pytest.approx(expected.scores[0], abs=1e-4)
        assert set(p["label"] for p in body["predictions"]) <= set(CLASSES)
    assert len(raw.json()["predictions"]) == 3 and len(octet.json()["predictions"]) == 5  # topk, else the default


def test_batch_endpoint_answers_each_image_in_order(live, predictor):
    images = [png_bytes(seed=s) for s in (2, 3, 4)]
    r = httpx.post(live.url + "/v1/classify/batch", files=[("files", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)])
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 3
    for result, data in zip(results, images):
        expected = predictor.predict(Image.open(io.BytesIO(data)), k=5)
        assert [p["label"] for p in result["predictions"]] == expected.labels


def test_real_model_answers_what_the_predictor_sees(cifar_predictor):
    """The CIFAR ResNet-20 teacher: CIFAR-10 PNGs (one per class) and full-size photos (JPEG, BMP)
    get the Predictor's top-5, and the PNGs mostly their true class."""
    from tests.conftest import need_shared

    cifar = need_shared("cifar10", "val")
    files = [sorted((cifar / c).glob("*.png"))[0] for c in CIFAR_CLASSES] + sorted(need_shared("photos").glob("*.[jb][pm]*"))
    correct = 0
    with live_server(cifar_predictor) as live, live.client() as c:
        for f in files:
            r = c.post("/v1/classify", content=f.read_bytes(), headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, (f.name, r.text)
            expected = cifar_predictor.predict(Image.open(f), k=5)
            assert [p["label"] for p in r.json()["predictions"]] == expected.labels, f.name
            correct += f.parent.name == expected.labels[0]
    assert correct >= 8


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


_JPEG = png_bytes(64, 64, fmt="JPEG")
BAD_INPUTS = {
    # name: (path, request kwargs, status, a word the reason must contain)
    "not an image": ("/v1/classify", {"content": b"hello, not a picture", "headers": PNG}, 400, "not an image"),
    "truncated png": ("/v1/classify", {"content": png_bytes(seed=5)[:300], "headers": PNG}, 400, "truncated"),
    "truncated jpeg": ("/v1/classify", {"content": _JPEG[: len(_JPEG) // 2], "headers": {"Content-Type": "image/jpeg"}}, 400, "truncated"),
    "empty body": ("/v1/classify", {"content": b"", "headers": PNG}, 400, "empty"),
    "empty multipart file": ("/v1/classify", {"files": {"file": ("e.png", b"", "image/png")}}, 400, "empty"),
    "multipart without a file": ("/v1/classify", {"data": {"name": "x"}, "files": {"other": ("a", b"1"), "more": ("b", b"2")}}, 400, "file"),
    "multipart without boundary": ("/v1/classify", {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}}, 400, "boundary"),
    "json body": ("/v1/classify", {"json": {"image": "x"}}, 415, "Content-Type"),
    "text body": ("/v1/classify", {"content": b"abc", "headers": {"Content-Type": "text/plain"}}, 415, "Content-Type"),
    "raw body to batch": ("/v1/classify/batch", {"content": png_bytes(), "headers": PNG}, 415, "multipart"),
    "batch without files": ("/v1/classify/batch", {"content": b"--xyz--\r\n",
                                                   "headers": {"Content-Type": "multipart/form-data; boundary=xyz"}}, 400, "no images"),
    "batch with the image as a text field": ("/v1/classify/batch", {
        "content": b'--xyz\r\nContent-Disposition: form-data; name="image"\r\n\r\ncat.png\r\n--xyz--\r\n',
        "headers": {"Content-Type": "multipart/form-data; boundary=xyz"}}, 400, "`image` (text, not a file)"),
    "batch with an empty part": ("/v1/classify/batch", {"files": [("image", ("cat.png", b"", "image/png"))]}, 400,
                                 "image 0 (`image` part cat.png) is empty"),
    "batch with a bad image": ("/v1/classify/batch", {"files": [("files", ("ok.png", png_bytes(), "image/png")),
                                                                ("files", ("bad.png", b"junk", "image/png"))]}, 400, "image 1 (bad.png)"),
    "too many images": ("/v1/classify/batch", {"files": [("files", (f"{i}.png", png_bytes(8, 8), "image/png")) for i in range(5)]}, 400, "Too many files"),
    "bomb beyond Pillow's limit": ("/v1/classify", {"content": _png_header(100_000, 100_000), "headers": PNG}, 413, "too large"),
    "bomb beyond the service's limit": ("/v1/classify", {"content": _png_header(3000, 3000), "headers": PNG}, 413, "1,000,000"),
    "too elongated": ("/v1/classify", {"content": png_bytes(400, 4), "headers": PNG}, 400, "elongated"),
    "bad topk": ("/v1/classify", {"content": png_bytes(), "headers": PNG, "params": {"topk": 0}}, 422, "topk"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_json_4xx_with_the_reason_and_the_server_stays_up(live, case):
    path, kwargs, status, reason = BAD_INPUTS[case]
    start = time.perf_counter()
    with live.client() as c:
        r = c.post(path, **kwargs)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert reason in str(r.json()["detail"])
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.post("/v1/classify", content=png_bytes(), headers=PNG).status_code == 200
    if "bomb" in case:
        assert time.perf_counter() - start < 5  # refused from the header, nothing decoded


def _raw_exchange(url: str, head: bytes, body_parts: list[bytes]) -> tuple[int, bytes, bytes]:
    """Send a request over a bare socket, without finishing its body; the status, headers and body of the answer."""
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(head)
        for part in body_parts:
            s.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        header, rest = data.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in header.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(header.split(b" ")[1]), header, rest


def test_oversized_body_is_refused_with_413_before_it_is_read(live):
    """Content-Length of 50 MiB against a 1 MiB limit: 413 arrives after 1 KiB of the body was sent.
    A chunked body (no length) is cut off as soon as it passes the limit."""
    import json

    head = (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            b"Content-Length: %d\r\n\r\n" % (50 * 2**20))
    status, header, body = _raw_exchange(live.url, head, [b"\0" * 1024])
    assert status == 413 and b"connection: close" in header.lower()
    assert "too large" in json.loads(body)["detail"] and "52,428,800" in json.loads(body)["detail"]

    head = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"\0" * 64 * 1024)
    status, _, body = _raw_exchange(live.url, head, [chunk] * 17)  # 1.06 MiB, and the body never ends
    assert status == 413 and "more than 1,048,576 bytes" in json.loads(body)["detail"]

    form_head = (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    part = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
    first = b"%x\r\n%s\r\n" % (len(part), part)
    status, _, _ = _raw_exchange(live.url, form_head, [first] + [chunk] * 17)
    assert status == 413
    assert httpx.get(live.url + "/healthz").status_code == 200


def test_metrics_count_requests_by_status_latency_queue_and_batches(predictor):
    with live_server(predictor, max_body_mb=1) as live:
        with live.client() as c:
            for seed in (1, 2):
                assert c.post("/v1/classify", content=png_bytes(seed=seed), headers=PNG).status_code == 200
            assert c.post("/v1/classify", content=b"nope", headers=PNG).status_code == 400
            assert c.post("/v1/classify", json={}).status_code == 415
        head = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % 2**21
        assert _raw_exchange(live.url, head, [b"\0" * 1024])[0] == 413
        with live.client() as c:
            assert c.post("/v1/classify/batch", files=[("files", ("a.png", png_bytes(), "image/png"))] * 3).status_code == 200
        m = live.metrics()
    req = lambda ep, st: m.get(("edgecv_requests_total", frozenset({"endpoint": ep, "status": st}.items())), 0)  # noqa: E731
    assert (req("/v1/classify", "200"), req("/v1/classify", "400"), req("/v1/classify", "415"), req("/v1/classify", "413")) == (2, 1, 1, 1)
    assert req("/v1/classify/batch", "200") == 1
    assert m[("edgecv_request_latency_seconds_count", frozenset({"endpoint": "/v1/classify"}.items()))] == 5
    assert m[("edgecv_request_latency_seconds_sum", frozenset({"endpoint": "/v1/classify"}.items()))] > 0
    assert m[("edgecv_queue_depth", frozenset())] == 0
    # 2 single images + 3 from the batch request, one image per runner call without batching; no warm-up
    assert m[("edgecv_batch_size_count", frozenset())] == 5 and m[("edgecv_batch_size_sum", frozenset())] == 5
    assert m[("edgecv_inference_seconds_count", frozenset())] == 5


def _wait_until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_full_queue_answers_503_with_retry_after(predictor):
    gated = GatedPredictor(predictor)
    with live_server(gated, queue_size=2, max_images_per_request=2, retry_after_s=3) as live:
        gated.close()
        post = lambda seed: httpx.post(live.url + "/v1/classify", content=png_bytes(seed=seed), headers=PNG, timeout=30)  # noqa: E731
        with ThreadPoolExecutor(3) as pool:
            running = pool.submit(post, 1)
            assert gated.entered.wait(10)  # image 1 is in the runner; the queue is empty again
            queued = [pool.submit(post, s) for s in (2, 3)]
            _wait_until(lambda: live.app.state.batcher.depth == 2)
            refused = post(4)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
            assert "queue is full" in refused.json()["detail"]
            two = httpx.post(live.url + "/v1/classify/batch", files=[("files", ("a.png", png_bytes(), "image/png"))] * 2)
            assert two.status_code == 503  # admitted whole or not at all
            assert live.metrics()[("edgecv_queue_depth", frozenset())] == 2
            gated.open()
            assert [f.result().status_code for f in [running, *queued]] == [200, 200, 200]
        assert post(5).status_code == 200  # room again
        m = live.metrics()
        assert m[("edgecv_requests_total", frozenset({"endpoint": "/v1/classify", "status": "503"}.items()))] == 1


@pytest.mark.parametrize("max_batch", [1, 4])
def test_dynamic_batching_runs_concurrent_requests_in_one_runner_call(predictor, max_batch):
    """4 concurrent requests: one runner call of 4 with --max-batch 4 (the long wait only applies while
    the batch is not full), four calls of 1 without batching; the answers are the same either way."""
    counting = GatedPredictor(predictor)
    images = [png_bytes(seed=s) for s in range(4)]
    with live_server(counting, max_batch=max_batch, max_wait_ms=10_000) as live:
        counting.batch_sizes.clear()  # the warm-up call
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda b: httpx.post(live.url + "/v1/classify", content=b, headers=PNG, timeout=30), images))
        m = live.metrics()
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(counting.batch_sizes) == ([4] if max_batch == 4 else [1, 1, 1, 1])
    assert {a.json()["batch_size"] for a in answers} == {max_batch}
    assert m[("edgecv_batch_size_sum", frozenset())] == 4
    assert m[("edgecv_batch_size_count", frozenset())] == (1 if max_batch == 4 else 4)
    for a, b in zip(answers, images):
        expected = predictor.predict(Image.open(io.BytesIO(b)), k=5)
        got = a.json()["predictions"]
        assert [p["label"] for p in got] == expected.labels
        np.testing.assert_allclose([p["score"] for p in got], expected.scores, atol=1e-4)


def test_readyz_waits_for_the_warm_up(predictor):
    gated = GatedPredictor(predictor)
    gated.close()  # the warm-up call blocks
    try:
        with live_server(gated, wait_ready_=False) as live:
            assert gated.entered.wait(10)
            r = httpx.get(live.url + "/readyz")
            assert r.status_code == 503 and r.json() == {"status": "warming up"}
            assert httpx.get(live.url + "/healthz").status_code == 200  # alive all the same
            gated.open()
            _wait_until(lambda: httpx.get(live.url + "/readyz").status_code == 200)
    finally:
        gated.open()


def test_openapi_schema_is_served(live):
    schema = httpx.get(live.url + "/openapi.json").json()
    assert {"/v1/classify", "/v1/classify/batch", "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])
    body = schema["paths"]["/v1/classify"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "image/png" in body
    assert {"400", "413", "415", "503"} <= set(schema["paths"]["/v1/classify"]["post"]["responses"])


def test_shutdown_answers_what_cannot_run_in_time_with_503_and_finishes_the_rest(predictor):
    """The runner is stuck on image 1 and two more wait when shutdown begins (drain timeout 0.5 s):
    the waiting two get a clean 503 instead of a dropped connection, image 1 still gets its 200 once
    the runner returns, and the server thread ends."""
    gated = GatedPredictor(predictor)
    post = lambda seed: httpx.post(live.url + "/v1/classify", content=png_bytes(seed=seed), headers=PNG, timeout=30)  # noqa: E731
    with live_server(gated, drain_timeout_s=0.5) as live:
        gated.close()
        with ThreadPoolExecutor(3) as pool:
            running = pool.submit(post, 1)
            assert gated.entered.wait(10)
            queued = [pool.submit(post, s) for s in (2, 3)]
            _wait_until(lambda: live.app.state.batcher.depth == 2)
            live.server.should_exit = True  # what SIGTERM does
            refused = [f.result(timeout=20) for f in queued]
            assert [r.status_code for r in refused] == [503, 503]
            assert all("shut down before this image ran" in r.json()["detail"] and r.headers["retry-after"] for r in refused)
            gated.open()
            assert running.result(timeout=20).status_code == 200


def test_a_runner_failure_is_a_json_500_and_the_server_carries_on(predictor):
    class Flaky(GatedPredictor):
        fail = False

        def logits(self, batch):
            if self.fail:
                raise RuntimeError("simulated runtime failure\nwith a second line")
            return super().logits(batch)

    flaky = Flaky(predictor)
    with live_server(flaky) as live, live.client() as c:
        flaky.fail = True
        r = c.post("/v1/classify", content=png_bytes(), headers=PNG)
        assert r.status_code == 500 and r.json() == {"detail": "inference failed: simulated runtime failure"}
        flaky.fail = False
        assert c.post("/v1/classify", content=png_bytes(), headers=PNG).status_code == 200


@pytest.mark.parametrize("backend", ["openvino", "executorch"])
def test_other_runtimes_serve_what_their_predictor_sees(backend, tmp_path):
    """The service on an OpenVINO IR and an ExecuTorch program: the same answers as their Predictor, one
    image and a batch (ExecuTorch's fixed batch of 1 is split by its runner), with the backend named."""
    import torch

    from edgecv.app import Predictor
    from edgecv.backends.build import build_artifact
    from edgecv.models import create_model

    torch.manual_seed(0)
    model = create_model("cifar_resnet8", num_classes=len(CLASSES)).eval()
    pre = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "class_names": CLASSES}
    res = build_artifact(backend, model, torch.zeros(1, 3, 32, 32), tmp_path, preprocess=pre)
    if res.status == "skipped":
        pytest.skip(res.error)
    assert res.status == "ok", res.error
    predictor = Predictor(res.artifact, threads=1)
    images = [png_bytes(seed=s) for s in (5, 6, 7)]
    with live_server(predictor, max_batch=4, max_wait_ms=5) as live, live.client() as c:
        one = c.post("/v1/classify", content=images[0], headers=PNG, params={"topk": 3})
        many = c.post("/v1/classify/batch", files=[("files", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)])
    assert one.status_code == 200 and many.status_code == 200, (one.text, many.text)
    assert one.json()["backend"] == backend
    expected = [predictor.predict(Image.open(io.BytesIO(b)), k=5) for b in images]
    assert [p["label"] for p in one.json()["predictions"]] == expected[0].labels[:3]
    for result, exp in zip(many.json()["results"], expected):
        assert [p["label"] for p in result["predictions"]] == exp.labels
