"""run_demo and its parts from Python: a stream that drops and reconnects, stale-frame dropping on a live
source (and none on a file), Ctrl-C keeping the saved video, a failed run leaving no video."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from edgecv.app import Predictor
from edgecv.demo import FrameReader, Reconnect, parse_source, run_demo
from edgecv.demo.capture import SourceEnded
from edgecv.demo.sources import redact
from edgecv.demo.window import QUIT, SNAPSHOT, key_action
from tests.demo.conftest import read_video

TINY_BACKOFF = Reconnect(attempts=3, first_delay_s=0.001, max_delay_s=0.004)


class FlakyStream:
    """A live source as a network camera behaves: each connection delivers some frames, then the read
    fails. `connections` lists how many frames each successful (re)connection gives; once they are
    used up, reopening fails. `interval_s` paces the frames like a camera's clock."""

    live = True
    fps = None
    path = None
    skipped = 0

    def __init__(self, frames: list[np.ndarray], connections: list[int], interval_s: float = 0.0):
        self.description = "stream fake://camera"
        self.frames, self.connections, self.interval_s = frames, list(connections), interval_s
        self.left = self.connections.pop(0)
        self.produced = self.reopen_calls = 0
        self.closed = False
        self.lock = threading.Lock()

    def read(self):
        if self.interval_s:
            time.sleep(self.interval_s)
        if self.left == 0:
            return None  # the connection dropped
        self.left -= 1
        frame = self.frames[self.produced % len(self.frames)].copy()
        self.produced += 1
        return frame

    def reopen(self) -> bool:
        self.reopen_calls += 1
        if not self.connections:
            return False
        self.left = self.connections.pop(0)
        return True

    def close(self) -> None:
        self.closed = True


class SlowPredictor:
    """The real Predictor, plus a fixed delay per prediction: a model slower than the camera."""

    def __init__(self, predictor: Predictor, delay_s: float, interrupt_at: int | None = None,
                 fail_at: int | None = None):
        self.inner, self.delay_s = predictor, delay_s
        self.interrupt_at, self.fail_at, self.calls = interrupt_at, fail_at, 0
        self.artifact, self.name = predictor.artifact, predictor.name

    def preprocess(self, image, bgr=False):
        return self.inner.preprocess(image, bgr)

    def predict(self, image, k=5, bgr=False):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        if self.calls == self.fail_at:
            raise RuntimeError("the runtime fell over")
        time.sleep(self.delay_s)
        return self.inner.predict(image, k, bgr)


@pytest.fixture(scope="module")
def predictor(onnx_artifact):
    return Predictor(onnx_artifact, threads=1)


@pytest.fixture(scope="module")
def video_frames(photo_video):
    return read_video(photo_video)


def test_stream_that_drops_reconnects_then_ends_cleanly(predictor, video_frames):
    stream = FlakyStream(video_frames, connections=[5, 4], interval_s=0.002)
    t0 = time.perf_counter()
    stats = run_demo(predictor, stream, reconnect=TINY_BACKOFF, keep_predictions=True)
    assert time.perf_counter() - t0 < 10
    assert stats.reconnects == 1 and stats.source_lost
    assert stats.end_reason == "stream fake://camera dropped and did not come back after 3 reconnect attempts"
    assert stream.reopen_calls == 1 + 3 and stream.closed
    assert stream.produced == 9 and stats.frames + stats.dropped == 9 and stats.frames >= 1
    assert "reconnects 1" in stats.summary()


class MjpegServer:
    """A real MJPEG-over-HTTP stream on loopback (what many IP cameras serve): each connection gets
    `per_connection` JPEG frames, then the server hangs up; after `connections` connections it answers 503."""

    def __init__(self, frames: list[np.ndarray], per_connection: int, connections: int):
        import cv2
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.served += 1
                if server.served > connections:
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for i in range(per_connection):
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                     + jpeg + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.005)

        self.served = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_real_loopback_stream_drops_reconnects_then_ends_cleanly(predictor, video_frames, tmp_path):
    server = MjpegServer(video_frames, per_connection=8, connections=2)
    try:
        out = tmp_path / "stream.mp4"
        t0 = time.perf_counter()
        stats = run_demo(predictor, server.url, reconnect=TINY_BACKOFF, save=out)
        assert time.perf_counter() - t0 < 20
    finally:
        server.close()
    assert stats.source.startswith("stream http://127.0.0.1:")
    assert stats.reconnects == 1 and stats.source_lost
    assert "did not come back after 3 reconnect attempts" in stats.end_reason
    assert server.served == 2 + 3  # two streams, then three refused attempts
    assert 1 <= stats.frames and stats.frames + stats.dropped == 16  # 8 + 8: dropped only if stale
    assert stats.saved == out and len(read_video(out)) == stats.frames  # what was shown is kept


def test_a_stalled_stream_times_out_instead_of_hanging(predictor, video_frames):
    """A server that keeps the connection open but stops sending (and then accepts connections it never
    answers): the read and open timeouts turn both into a clean end within seconds."""
    import socket

    import cv2

    from edgecv.demo import open_source

    jpeg = cv2.imencode(".jpg", video_frames[0])[1].tobytes()
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        first = True
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed at the end of the test
                return
            held.append(conn)
            if first:  # 3 frames, then silence on an open connection
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
                for _ in range(3):
                    conn.sendall(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                 + jpeg + b"\r\n")
                first = False

    threading.Thread(target=serve, daemon=True).start()
    try:
        source = open_source(f"http://127.0.0.1:{listener.getsockname()[1]}/cam.mjpg", open_timeout_s=1.0,
                             read_timeout_s=0.5)
        t0 = time.perf_counter()
        stats = run_demo(predictor, source, reconnect=Reconnect(attempts=2, first_delay_s=0.01))
        took = time.perf_counter() - t0
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert stats.source_lost and stats.reconnects == 0 and "after 2 reconnect attempts" in stats.end_reason
    assert stats.frames + stats.dropped == 3
    assert took < 10  # ~0.5 s read timeout + 2 x 1 s open timeouts, not forever


def test_a_read_that_never_returns_is_cut_off_by_the_watchdog(predictor, video_frames):
    """A driver that ignores every timeout and blocks in read(): the loop gives up after
    stall_timeout_s, and leaves the source to the stuck thread rather than closing it under it."""
    stream = FlakyStream(video_frames, connections=[3])
    unblock = threading.Event()
    plain_read = stream.read
    stream.read = lambda: plain_read() if stream.produced < 3 else (unblock.wait(30) and None)

    t0 = time.perf_counter()
    try:
        stats = run_demo(predictor, stream, stall_timeout_s=0.3)
    finally:
        unblock.set()
    assert time.perf_counter() - t0 < 8
    assert stats.source_lost and stats.end_reason == "stream fake://camera gave no frame for 0.3 s"
    assert stats.frames + stats.dropped == 3 and not stream.closed


def test_reconnect_budget_is_not_refilled_by_connections_that_deliver_nothing(predictor, video_frames):
    """A source that reopens but never delivers a frame must still give up: 3 attempts, not forever."""
    stream = FlakyStream(video_frames, connections=[2, 0, 0, 0, 0, 0, 0])
    stats = run_demo(predictor, stream, reconnect=TINY_BACKOFF)
    assert stats.source_lost and stream.reopen_calls == 3 and stats.reconnects == 3


def test_live_source_drops_stale_frames_within_the_queue_bound(predictor, video_frames):
    camera = FlakyStream(video_frames, connections=[120], interval_s=0.001)  # ~1000 fps camera
    slow = SlowPredictor(predictor, delay_s=0.02)  # ~50 fps model
    stats = run_demo(slow, camera, reconnect=Reconnect(attempts=0), keep_predictions=True)
    assert stats.dropped > 0 and stats.frames + stats.dropped == camera.produced == 120
    assert stats.queue_size == 1 and 1 <= stats.max_queue_depth <= stats.queue_size
    indices = [r.index for r in stats.records]
    assert indices == sorted(indices) and max(np.diff(indices)) > 1  # it skipped ahead to newer frames


def test_a_file_is_not_live_every_frame_is_processed(predictor, photo_video):
    stats = run_demo(SlowPredictor(predictor, delay_s=0.02), photo_video, keep_predictions=True)
    assert stats.frames == 12 and stats.dropped == 0 and [r.index for r in stats.records] == list(range(12))
    assert stats.max_queue_depth <= stats.queue_size


def test_reader_queue_never_exceeds_its_bound_and_keeps_the_newest():
    """A consumer that reads nothing until the source is done: only the newest frames are left."""
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(50)]
    camera = FlakyStream(frames, connections=[50])
    reader = FrameReader(camera, queue_size=3, reconnect=Reconnect(attempts=0)).start()
    deadline = time.perf_counter() + 5
    while camera.produced < 50 and time.perf_counter() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    items = []
    while not items or not isinstance(items[-1], SourceEnded):
        items.append(reader.get(1.0))
    assert reader.stop()
    assert [f.index for f in items[:-1]] == [47, 48, 49] and reader.dropped == 47 and reader.max_depth == 3
    assert items[-1].lost


def test_ctrl_c_ends_the_run_and_keeps_the_saved_video(predictor, photo_video, tmp_path):
    out = tmp_path / "interrupted.mp4"
    stats = run_demo(SlowPredictor(predictor, 0.0, interrupt_at=4), photo_video, save=out)
    assert stats.end_reason == "interrupted" and stats.frames == 2 and stats.saved == out  # call 1 checked the input
    assert len(read_video(out)) == 2


def test_a_failed_run_leaves_no_video(predictor, photo_video, tmp_path):
    out = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError, match="inference failed on frame 2 of video .*the runtime fell over"):
        run_demo(SlowPredictor(predictor, 0.0, fail_at=4), photo_video, save=out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_parse_source_and_keys(tmp_path, photo_video):
    assert (parse_source("0").kind, parse_source("0").target) == ("camera", 0)
    assert parse_source("rtsp://cam.local/live").kind == "stream"
    assert parse_source(str(tmp_path)).kind == "folder" and parse_source(str(photo_video)).kind == "file"
    assert parse_source("rtsp://admin:hunter2@cam/live").description == "stream rtsp://admin:***@cam/live"
    assert redact("http://cam/live") == "http://cam/live"
    with pytest.raises(FileNotFoundError, match="source not found"):
        parse_source(str(tmp_path / "nope.mp4"))
    assert key_action(ord("q")) == QUIT and key_action(27) == QUIT and key_action(ord("s")) == SNAPSHOT
    assert key_action(-1) is None and key_action(ord("x")) is None
    assert [TINY_BACKOFF.delay(i) for i in range(4)] == [0.001, 0.002, 0.004, 0.004]
    assert [Reconnect().delay(i) for i in range(5)] == [0.5, 1, 2, 4, 8]


def test_importing_the_demo_does_not_import_opencv():
    code = "import sys, edgecv.demo, edgecv.cli.demo; assert 'cv2' not in sys.modules, 'cv2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_snapshots_never_default_to_the_current_folder(monkeypatch, tmp_path):
    from edgecv.demo.output import default_snapshot_dir

    monkeypatch.delenv("EDGECV_SNAPSHOTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_snapshot_dir().resolve() != tmp_path.resolve() and default_snapshot_dir().name == "snapshots"
    monkeypatch.setenv("EDGECV_SNAPSHOTS", str(tmp_path / "shots"))
    assert default_snapshot_dir() == tmp_path / "shots"
