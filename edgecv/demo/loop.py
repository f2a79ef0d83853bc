"""The demo's run loop: frames from a reader thread -> the Predictor -> overlay -> window / video / log.

    from edgecv.app import Predictor
    from edgecv.demo import run_demo
    stats = run_demo(Predictor("model.onnx", threads=2), "clip.mp4", save="out.mp4", log=print)
    print(stats.summary())

Every prediction goes through `Predictor.predict` (the artifact's own preprocessing), so the demo
gives the answer `edgecv bench` gives on the same frame. Inference time is that call: preprocessing
plus the model. The FPS is end to end: capture, inference, drawing, display and saving.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..utils.errors import first_line
from ..utils.options import with_fields
from .capture import FrameReader, Reconnect, SourceEnded
from .output import VideoSaver, check_save_path, default_snapshot_dir, save_snapshot
from .overlay import draw_overlay
from .sources import FrameSource, SourceError, SourceSpec, open_source, parse_source
from .stats import DemoStats, FpsMeter, FrameRecord
from .window import QUIT, SNAPSHOT, Window

POLL_S = 0.05  # how often the loop looks up from an empty queue (window events, the watchdog)
STALL_TIMEOUT_S = 30.0  # a read blocked longer than this (a driver ignoring its timeouts) ends the run
LOG_EVERY_S = 1.0


@dataclass(frozen=True)
class DemoOptions:
    """How `run_demo` runs (the demo flags)."""
    topk: int = 3
    window: bool = False  # show a window (q quits, s saves a snapshot)
    save: str | Path | None = None  # write the overlaid frames to this video
    max_frames: int | None = None
    log: Callable[[str], None] | None = None  # one progress line a second
    queue_size: int | None = None  # frames the reader may hold (live sources drop stale ones)
    reconnect: Reconnect = Reconnect()
    stall_timeout_s: float = STALL_TIMEOUT_S
    keep_predictions: bool = False  # keep every frame's Prediction in the stats
    snapshot_dir: str | Path | None = None  # default: default_snapshot_dir(), never the current folder
    overwrite: bool = False  # let `save` replace an existing file (never an input)


def run_demo(predictor, source: FrameSource | SourceSpec | str | int | Path, options: DemoOptions | None = None,
             **fields) -> DemoStats:
    """Classify every frame `source` delivers until it ends, `max_frames` are done, q is pressed
    (with `window`) or Ctrl-C; returns what was measured. `source` is the --source text, a spec, or
    any FrameSource (run_demo closes it). `options` (or its fields as keywords) say how; `log` gets one
    progress line a second; `save` never replaces an existing file unless `overwrite`. Errors before
    the first frame is classified (a source that does not open, an artifact whose input does not fit)
    raise with a one-line message; a live source lost for good ends the run with `source_lost`."""
    o = with_fields(DemoOptions, options, fields, "run_demo")
    topk, save, window, overwrite = o.topk, o.save, o.window, o.overwrite
    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    spec = source if isinstance(source, SourceSpec) else None
    if isinstance(source, (str, int, os.PathLike)):
        spec = parse_source(source)  # a missing file fails here, before anything is opened
    frames = None if spec is not None else source  # a source given as an object is ours to close, too
    win = saver = None
    try:
        input_path = spec.path if spec is not None else getattr(source, "path", None)
        # cheap refusals first: nothing is opened for a --save over the input or a machine without a display
        save_path = (check_save_path(save, {"artifact": predictor.artifact.path, "source": input_path}, overwrite)
                     if save else None)
        win = Window(f"edgecv demo: {predictor.name}") if window else None
        if frames is None:
            frames = open_source(spec)
        first = read_first_frame(frames)
        check_input_fits(predictor, first, frames.description, topk)
        saver = VideoSaver(save_path, frames.fps, (first.shape[1], first.shape[0])) if save_path else None
    except BaseException:
        if frames is not None:
            frames.close()
        if win is not None:
            win.close()
        raise
    reader = FrameReader(frames, o.queue_size, o.reconnect, first=first).start()
    stats = DemoStats(source=frames.description, queue_size=reader.queue_size)
    finished = False
    try:
        _loop(predictor, reader, stats, win, saver, o)
        finished = True
    finally:
        stats.dropped, stats.reconnects, stats.max_queue_depth = reader.dropped, reader.reconnects, reader.max_depth
        stats.skipped = getattr(frames, "skipped", 0)
        if reader.stop():  # a reader stuck in a driver call still owns the source: leave it to the daemon thread
            frames.close()
        if saver is not None:
            stats.saved = saver.close(keep=finished)
        if win is not None:
            win.close()
    return stats


def _loop(predictor, reader: FrameReader, stats: DemoStats, win: Window | None, saver: VideoSaver | None,
          o: DemoOptions) -> None:
    topk, max_frames, log, stall_timeout_s = o.topk, o.max_frames, o.log, o.stall_timeout_s
    snapshot_dir = Path(o.snapshot_dir) if o.snapshot_dir is not None else default_snapshot_dir()
    fps = FpsMeter()
    start = last_log = time.perf_counter()
    try:
        while True:
            if max_frames is not None and stats.frames >= max_frames:
                stats.end_reason = f"stopped after {max_frames} frames"
                break
            item = reader.get(POLL_S)
            if item is None:  # nothing new yet: keep the window responsive and watch for a hung read
                if win is not None and win.poll() == QUIT:
                    stats.end_reason = "quit"
                    break
                if reader.stalled_for() > stall_timeout_s:
                    stats.end_reason = f"{stats.source} gave no frame for {stall_timeout_s:g} s"
                    stats.source_lost = True
                    break
                continue
            if isinstance(item, SourceEnded):
                stats.end_reason, stats.source_lost = item.reason, item.lost
                break
            t0 = time.perf_counter()
            try:
                pred = predictor.predict(item.image, k=topk, bgr=True)
            except Exception as e:  # the first frame ran, so this is the runtime failing mid-way
                raise RuntimeError(f"inference failed on frame {item.index} of {stats.source}: "
                                   f"{first_line(e)}") from None
            infer_ms = (time.perf_counter() - t0) * 1000
            stats.frames += 1
            stats.infer_ms.append(infer_ms)
            if o.keep_predictions:
                stats.records.append(FrameRecord(item.index, pred))
            draw_overlay(item.image, pred, fps.tick(time.perf_counter()), infer_ms)
            if saver is not None:
                saver.write(item.image)
            if win is not None:
                action = win.show(item.image)
                if action == QUIT:
                    stats.end_reason = "quit"
                    break
                if action == SNAPSHOT:
                    _snapshot(item.image, snapshot_dir, item.index, stats, log)
            now = time.perf_counter()
            stats.elapsed_s = now - start
            if log is not None and now - last_log >= LOG_EVERY_S:
                last_log = now
                log(_progress_line(stats, reader, fps.value, infer_ms, pred))
    except KeyboardInterrupt:  # Ctrl-C is how a headless camera run is stopped: finish normally
        stats.end_reason = "interrupted"
    stats.elapsed_s = time.perf_counter() - start


def read_first_frame(source: FrameSource) -> np.ndarray:
    """The first frame, read before the reader thread starts: the input check runs on it, and a
    source that opens but delivers nothing is reported here, as an error."""
    frame = source.read()
    if frame is None:
        raise SourceError(f"{source.description} opened but gave no frame (empty, unreadable, "
                          "or a stream that sent nothing)")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise SourceError(f"{source.description} gives frames of shape {frame.shape} ({frame.dtype}); "
                          "the demo needs HxWx3 uint8 BGR frames")
    return frame


def check_input_fits(predictor, frame: np.ndarray, description: str, topk: int = 1) -> None:
    """Refuse an artifact whose input a frame cannot fill (e.g. a 1-channel model: frames are
    colour), then classify the frame once: the runtime's own errors surface here as one line,
    before any window or video is opened, and the first timed frame is not a cold start."""
    name = predictor.artifact.path.name
    try:
        x = predictor.preprocess(frame, bgr=True)
    except Exception as e:
        raise ValueError(f"{name}: cannot preprocess a frame from {description}: {first_line(e)}") from None
    want = list(predictor.artifact.metadata.input_shape[1:])
    if all(isinstance(d, int) for d in want) and list(x.shape) != want:
        raise ValueError(f"{name} takes {'x'.join(map(str, want))} inputs (channels x height x width) but a "
                         f"frame from {description} becomes {'x'.join(map(str, x.shape))} (colour frames, "
                         "resized per the artifact's metadata): this artifact does not fit the demo")
    try:
        predictor.predict(frame, k=topk, bgr=True)
    except Exception as e:
        raise ValueError(f"{name} cannot classify a frame from {description}: {first_line(e)}") from None


def _snapshot(image: np.ndarray, folder: Path, index: int, stats: DemoStats, log) -> None:
    try:
        path = save_snapshot(image, folder, index)
    except OSError as e:  # a full disk must not end the demo
        (log or print)(f"snapshot not saved: {first_line(e)}")
        return
    stats.snapshots.append(path)
    (log or print)(f"snapshot: {path}")


def _progress_line(stats: DemoStats, reader: FrameReader, fps: float, infer_ms: float, pred) -> str:
    top1 = f"{pred.labels[0]} {pred.scores[0]:.2f}" if pred.labels else "-"
    return (f"{stats.elapsed_s:6.1f}s  frames {stats.frames:>6}  {fps:6.1f} FPS  inference {infer_ms:6.1f} ms  "
            f"dropped {reader.dropped}  top-1 {top1}")

