"""`edgecv demo` end to end: headless runs with --save on ONNX, TFLite, OpenVINO and ExecuTorch artifacts, an
image folder, and the one-line errors (missing camera, missing or unreadable file, an artifact that does not fit)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from edgecv.app import Predictor
from edgecv.cli import main
from edgecv.demo import run_demo
from edgecv.demo.overlay import PANEL_DIM
from tests.demo.conftest import HOLD, VIDEO_SIZE, photo_files, read_video


@pytest.fixture(params=["onnx", "tflite", "openvino", "executorch"])
def artifact(request, artifact_for):
    return artifact_for(request.param)


def _one_line_error(capfd) -> str:
    """Everything the command printed (OpenCV's native stderr included): exactly one line, no traceback."""
    out, err = capfd.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out + err, out + err
    return lines[0]


def test_headless_save_draws_overlay_and_agrees_with_predictor(artifact, photo_video, tmp_path, capfd):
    out = tmp_path / "out.mp4"
    rc = main(["demo", str(artifact), "--source", str(photo_video), "--headless", "--save", str(out),
               "--topk", "3", "--threads", "1"])
    printed = capfd.readouterr().out
    assert rc == 0, printed
    assert f"video {photo_video}: frames 12 | dropped 0 |" in printed and "p95" in printed
    assert f"wrote {out}" in printed
    assert not list(tmp_path.glob(".out.partial*"))  # the temporary name was renamed

    source, saved = read_video(photo_video), read_video(out)
    assert len(saved) == len(source) == 12
    assert all(f.shape == (VIDEO_SIZE[1], VIDEO_SIZE[0], 3) for f in saved)
    for i, (src, drawn) in enumerate(zip(source, saved)):
        src, drawn = src.astype(np.float32), drawn.astype(np.float32)
        assert np.abs(drawn - src).mean() > 20, f"frame {i}: the overlay did not change it"
        # the panel dims the frame it was drawn on: the saved frame is this source frame, in order
        assert np.median(np.abs(drawn - PANEL_DIM * src)) < 12, f"frame {i} is not source frame {i} under the panel"

    # each frame's top-1 is the Predictor's on the same decoded frame (the artifact's own preprocessing)
    predictor = Predictor(artifact, threads=1)
    stats = run_demo(predictor, photo_video, topk=3, keep_predictions=True)
    assert [r.index for r in stats.records] == list(range(12))
    for record, frame in zip(stats.records, source):
        expected = predictor.predict(frame, k=3, bgr=True)
        assert record.prediction.indices[0] == expected.indices[0]
        assert record.prediction.labels == expected.labels
        assert np.allclose(record.prediction.scores, expected.scores, atol=1e-5)
    assert all(stats.records[i].prediction.labels[0] == stats.records[i + 1].prediction.labels[0]
               for i in range(0, 12, HOLD))  # a held photo decodes to the same answer twice


def test_image_folder_source_with_max_frames(onnx_artifact, photos, tmp_path, capfd):
    import cv2

    out = tmp_path / "folder.mp4"
    rc = main(["demo", str(onnx_artifact), "--source", str(photos), "--headless", "--save", str(out),
               "--max-frames", "4"])
    printed = capfd.readouterr().out
    assert rc == 0, printed
    assert f"folder {photos}: frames 4 | dropped 0 |" in printed and "stopped after 4 frames" in printed
    first = cv2.imread(str(photo_files(photos)[0]))
    saved = read_video(out)
    assert len(saved) == 4 and saved[0].shape == first.shape  # the folder's images are written at the first's size

    predictor = Predictor(onnx_artifact)
    stats = run_demo(predictor, photos, keep_predictions=True)
    files = photo_files(photos)
    assert stats.frames == len(files) and stats.end_reason == f"end of folder {photos}"
    for record, f in zip(stats.records, files):
        assert record.prediction.labels[0] == predictor.predict(cv2.imread(str(f)), bgr=True).labels[0]
    top1 = {f.name: r.prediction.labels[0] for f, r in zip(files, stats.records)}
    assert top1["cat_720p.jpg"] == "cat"  # a real model on a real photo


def test_missing_camera_is_one_line_and_fast(onnx_artifact, capfd):
    t0 = time.perf_counter()
    assert main(["demo", str(onnx_artifact), "--source", "99", "--headless"]) == 2  # there is no camera 99
    assert time.perf_counter() - t0 < 10
    # capfd reads the file descriptors: OpenCV's own V4L2/FFmpeg warnings would show up here too
    assert _one_line_error(capfd) == ("error: camera 99 did not open: there is no such camera here, "
                                      "or another program is using it")


def test_unreadable_video_is_one_line_in_a_fresh_process(onnx_artifact, tmp_path):
    """Run as the user runs it: a fresh process, where no test has set up FFmpeg before the demo quietens
    it, so its own lines (e.g. "moov atom not found") would show."""
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_FFMPEG_LOGLEVEL", "EDGECV_DEBUG")}
    proc = subprocess.run([sys.executable, "-m", "edgecv", "demo", str(onnx_artifact), "--source", str(garbage),
                           "--headless"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert lines == [f"error: cannot read video {garbage}: OpenCV could not open it "
                     "(not a video, or a codec this OpenCV lacks)"], proc.stdout + proc.stderr


def test_missing_file_empty_folder_and_missing_artifact_are_one_line(onnx_artifact, photo_video, tmp_path, capfd):
    missing = tmp_path / "nope.mp4"
    assert main(["demo", str(onnx_artifact), "--source", str(missing), "--headless"]) == 2
    assert _one_line_error(capfd).startswith(f"error: source not found: {missing}")

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["demo", str(onnx_artifact), "--source", str(empty), "--headless"]) == 2
    assert _one_line_error(capfd).startswith(f"error: no images in {empty}")

    assert main(["demo", str(tmp_path / "missing.onnx"), "--source", str(photo_video), "--headless"]) == 2
    assert _one_line_error(capfd) == f"error: artifact not found: {tmp_path / 'missing.onnx'}"


def test_save_never_overwrites_the_source_or_the_artifact(onnx_artifact, photo_video, capfd):
    before = photo_video.read_bytes()
    run = ["demo", str(onnx_artifact), "--source", str(photo_video), "--headless", "--save"]
    assert main([*run, str(photo_video)]) == 2
    assert "refusing to save the video over the source" in _one_line_error(capfd)
    assert main([*run, str(onnx_artifact)]) == 2
    assert "refusing to save the video over the artifact" in _one_line_error(capfd)
    assert main([*run, str(photo_video.with_suffix(".webm"))]) == 2  # FFmpeg would add a line of its own
    assert "use a name ending in .mp4" in _one_line_error(capfd)
    assert photo_video.read_bytes() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is how Linux finds a screen")
def test_window_without_display_says_headless(onnx_artifact, photo_video, monkeypatch, capfd):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["demo", str(onnx_artifact), "--source", str(photo_video)]) == 2
    assert "--headless" in _one_line_error(capfd)


def test_artifact_whose_input_does_not_fit(photo_video, tmp_path, capfd):
    """A 1-channel (greyscale) model: colour frames cannot feed it; refused up front with one line."""
    from edgecv.backends.build import build_artifact

    grey = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(4, 2)).eval()
    res = build_artifact("onnx", grey, torch.zeros(1, 1, 32, 32), tmp_path,
                         preprocess={"mean": [0.5] * 3, "std": [0.5] * 3})
    if res.status == "skipped":
        pytest.skip(res.error)
    assert res.status == "ok", res.error
    out = tmp_path / "never.mp4"
    assert main(["demo", str(res.artifact.path), "--source", str(photo_video), "--headless", "--save", str(out)]) == 2
    line = _one_line_error(capfd)
    assert "takes 1x32x32 inputs" in line and "becomes 3x32x32" in line and "does not fit" in line
    assert not out.exists() and not list(tmp_path.glob(".never.partial*"))


def _damaged_video(folder, frames: int = 40):
    """An mp4v video of `frames` frames with a run of zeroed bytes in the middle of its data: OpenCV reads
    the first few frames, then reports no more, as at a normal end."""
    import cv2

    path = folder / "damaged.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, VIDEO_SIZE)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write((rng.random((VIDEO_SIZE[1], VIDEO_SIZE[0], 3)) * 255).astype(np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    start, end = int(len(data) * 0.3), int(len(data) * 0.6)
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_video_is_a_decode_failure_not_a_normal_end(onnx_artifact, tmp_path, capfd):
    import re

    bad = _damaged_video(tmp_path)
    rc = main(["demo", str(onnx_artifact), "--source", str(bad), "--headless"])
    printed = "".join(capfd.readouterr())
    assert rc == 1, printed
    m = re.search(r"decoding video \S+ failed after frame (\d+) of 40", printed)
    assert m and 0 < int(m.group(1)) < 40 and "end of video" not in printed, printed


def test_save_over_an_existing_video_needs_force(onnx_artifact, photo_video, tmp_path, capfd):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier recording")
    run = ["demo", str(onnx_artifact), "--source", str(photo_video), "--headless", "--save", str(out)]
    assert main(run) == 2
    assert f"{out} exists" in _one_line_error(capfd) and out.read_bytes() == b"an earlier recording"
    assert main([*run, "--force"]) == 0
    capfd.readouterr()
    assert len(read_video(out)) == 12
