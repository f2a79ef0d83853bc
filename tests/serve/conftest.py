"""Fixtures for the service tests: a small ONNX artifact, its Predictor, image bytes, and a real
uvicorn server on a free loopback port (in a background thread) to call over HTTP."""
from __future__ import annotations

import io
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

CLASSES = [f"class{i}" for i in range(10)]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    """A random-init CIFAR ResNet-8 built for ONNX Runtime, with its preprocessing and class names."""
    from edgecv.backends.build import build_artifact
    from edgecv.models import create_model

    torch.manual_seed(0)
    model = create_model("cifar_resnet8", num_classes=len(CLASSES)).eval()
    pre = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "class_names": CLASSES}
    res = build_artifact("onnx", model, torch.zeros(1, 3, 32, 32), tmp_path_factory.mktemp("serve_art"), preprocess=pre)
    assert res.status == "ok", res.error
    return res.artifact


@pytest.fixture(scope="session")
def predictor(artifact):
    from edgecv.app import Predictor

    return Predictor(artifact, threads=1)


@pytest.fixture(scope="session")
def cifar_predictor(tmp_path_factory):
    """The pretrained CIFAR ResNet-20 teacher as ONNX, with its normalisation and class names."""
    from edgecv.app import Predictor
    from edgecv.backends.build import build_artifact
    from edgecv.models import create_model
    from tests.conftest import need_shared

    model = create_model("cifar_resnet20", num_classes=10, checkpoint=need_shared("teachers", "resnet20-12fca82f.th")).eval()
    pre = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "class_names": CIFAR_CLASSES}
    res = build_artifact("onnx", model, torch.zeros(1, 3, 32, 32), tmp_path_factory.mktemp("serve_r20"), preprocess=pre)
    assert res.status == "ok", res.error
    return Predictor(res.artifact, threads=1)


def png_bytes(width: int = 48, height: int = 40, seed: int = 0, fmt: str = "PNG") -> bytes:
    arr = (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


@dataclass
class Live:
    url: str
    app: object
    server: object

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)

    def metrics(self) -> dict:
        """{(name, frozenset(labels.items())): value} from /metrics, through prometheus-client's parser."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.url + "/metrics", timeout=10).text
        return {(s.name, frozenset(s.labels.items())): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}


@contextmanager
def live_server(predictor, wait_ready_: bool = True, **settings):
    """`create_app(predictor, ServeSettings(**settings))` served by uvicorn on 127.0.0.1:<free port>
    in a thread; yields once /readyz answers 200 (/healthz with `wait_ready_=False`); stops it
    (graceful shutdown) on exit."""
    from edgecv.serve import ServeSettings, bind_socket, build_server, create_app

    cfg = ServeSettings(host="127.0.0.1", port=0, **settings)
    app = create_app(predictor, cfg)
    sock = bind_socket("127.0.0.1", 0)  # bound before serving: no race for the port
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    server = build_server(app, cfg, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_ready(url, "/readyz" if wait_ready_ else "/healthz")
        yield Live(url, app, server)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down"


def wait_ready(url: str, path: str = "/readyz", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not become ready in {timeout:.0f} s")
        time.sleep(0.05)


class GatedPredictor:
    """A real Predictor whose runner calls are recorded and, once `close()`d, block until `open()`:
    makes a full queue, a batch, or work in flight at shutdown happen on cue."""

    def __init__(self, inner):
        self._inner = inner
        self.batch_sizes: list[int] = []
        self.entered = threading.Event()  # a runner call has started
        self._gate = threading.Event()
        self._gate.set()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def close(self):
        self._gate.clear()
        self.entered.clear()

    def open(self):
        self._gate.set()

    def logits(self, batch):
        self.batch_sizes.append(len(batch))
        self.entered.set()
        if not self._gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return self._inner.logits(batch)
