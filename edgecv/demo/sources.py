"""Where frames come from: a camera index, a video file, a folder of images or a stream URL.

    spec = parse_source("0" | "clip.mp4" | "photos/" | "rtsp://host/cam")   # checks files, opens nothing
    source = open_source(spec)                                            # SourceError if it does not open
    frame = source.read()                                                 # BGR HxWx3 uint8, or None

A source is any object with the `FrameSource` attributes, so Python callers can bring their own
(a test's flaky stream, a frame grabber SDK). Opening and reading are bounded by timeouts: a
stream that does not answer fails within OPEN_TIMEOUT_S, not never.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .opencv import import_cv2

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
OPEN_TIMEOUT_S = 5.0  # a stream that does not answer within this is reported, not waited on
READ_TIMEOUT_S = 5.0  # a connected stream that stops sending counts as dropped after this
FOLDER_FPS = 2.0  # a folder has no frame rate; a saved video of it plays as a slideshow


class SourceError(RuntimeError):
    """A source that cannot be opened or read; the message is the whole story, in one line."""


@runtime_checkable
class FrameSource(Protocol):
    description: str  # for messages: "camera 0", "video clip.mp4", "stream rtsp://host/cam"
    live: bool  # frames arrive in real time whether or not we keep up: late ones are stale
    fps: float | None  # the rate the source reports, if any (used for a saved video)
    path: Path | None  # the file or folder read, so --save can refuse to overwrite it
    skipped: int  # frames that could not be decoded and were passed over (e.g. a corrupt image)

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None: the end of a file, or a live source that dropped."""

    def reopen(self) -> bool:
        """Reconnect a live source; True when it worked. Files and folders return False."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # camera | file | folder | stream
    target: int | str | Path

    @property
    def description(self) -> str:
        if self.kind == "stream":
            return f"stream {redact(str(self.target))}"
        noun = {"file": "video", "folder": "folder"}.get(self.kind, self.kind)
        return f"{noun} {self.target}"

    @property
    def path(self) -> Path | None:
        return self.target if isinstance(self.target, Path) else None


def parse_source(text: str | int | Path) -> SourceSpec:
    """The --source text as a spec: digits are a camera index, 'scheme://' a stream, else a path
    (a folder of images, one image, or a video file), which must exist."""
    if isinstance(text, int):
        return SourceSpec("camera", text)
    raw = str(text).strip()
    if raw.isdigit():
        return SourceSpec("camera", int(raw))
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", raw):
        return SourceSpec("stream", raw)
    path = Path(raw).expanduser()
    if path.is_dir():
        return SourceSpec("folder", path)
    if not path.exists():
        raise FileNotFoundError(f"source not found: {raw} (give a camera index, a video file, "
                                "a folder of images or a stream URL)")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return SourceSpec("folder", path)  # one image: a folder of one
    return SourceSpec("file", path)


def open_source(spec: SourceSpec | str | int | Path, open_timeout_s: float = OPEN_TIMEOUT_S,
                read_timeout_s: float = READ_TIMEOUT_S) -> FrameSource:
    if not isinstance(spec, SourceSpec):
        spec = parse_source(spec)
    if spec.kind == "folder":
        return FolderSource(spec)
    return CaptureSource(spec, open_timeout_s, read_timeout_s)


def redact(url: str) -> str:
    """A stream URL without its password (rtsp://user:secret@host -> rtsp://user:***@host)."""
    return re.sub(r"(://[^/:@]+:)[^/@]+@", r"\1***@", url)


class CaptureSource:
    """A camera, a video file or a stream, read through cv2.VideoCapture.

    A damaged video file makes OpenCV stop delivering frames, exactly as at the file's end. So a file's
    frames are counted against the count its container declares: ending well short of it is a decode
    failure (`decode_failure` says where), not the end of the video."""

    skipped = 0
    decode_failure: str | None = None

    def __init__(self, spec: SourceSpec, open_timeout_s: float = OPEN_TIMEOUT_S,
                 read_timeout_s: float = READ_TIMEOUT_S):
        if spec.kind not in ("camera", "file", "stream"):
            raise ValueError(f"CaptureSource reads cameras, files and streams, not a {spec.kind}")
        self.spec = spec
        self.description = spec.description
        self.live = spec.kind != "file"
        self.path = spec.path
        self._timeouts_ms = (int(open_timeout_s * 1000), int(read_timeout_s * 1000))
        self._cap = None
        if not self._open():
            raise SourceError(self._why_not_open())
        fps = self._cap.get(import_cv2().CAP_PROP_FPS)
        self.fps = float(fps) if 0 < fps <= 1000 else None  # cameras often report 0, streams nonsense
        count = self._cap.get(import_cv2().CAP_PROP_FRAME_COUNT) if spec.kind == "file" else 0
        self.frame_count = int(count) if 0 < count < 1e9 else None  # what the container declares
        self.frames_read = 0

    def _open(self) -> bool:
        cv2 = import_cv2()
        self._release()
        if self.spec.kind == "camera":
            cap = cv2.VideoCapture(self.spec.target)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's own queue adds lag too; not every driver obeys
        elif self.spec.kind == "stream":
            open_ms, read_ms = self._timeouts_ms
            cap = cv2.VideoCapture(str(self.spec.target), cv2.CAP_ANY,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms])
        else:
            cap = cv2.VideoCapture(str(self.spec.target))
        self._cap = cap
        return bool(cap.isOpened())

    def _why_not_open(self) -> str:
        kind, target = self.spec.kind, self.spec.target
        if kind == "camera":
            return f"camera {target} did not open: there is no such camera here, or another program is using it"
        if kind == "stream":
            return (f"{self.description} did not open within {self._timeouts_ms[0] / 1000:g} s: unreachable, "
                    "refused, or not a stream this OpenCV's FFmpeg can read")
        return f"cannot read video {target}: OpenCV could not open it (not a video, or a codec this OpenCV lacks)"

    def read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        if ok and frame is not None and frame.size:
            self.frames_read += 1
            return frame
        if not self.live and self.frame_count and self.frames_read < self.frame_count - _count_slack(self.frame_count):
            self.decode_failure = (f"decoding {self.description} failed after frame {self.frames_read} of "
                                   f"{self.frame_count} (the file is damaged, or partly in a codec this OpenCV "
                                   f"cannot decode); {self.frame_count - self.frames_read} frames were not read")
        return None

    def reopen(self) -> bool:
        return self.live and self._open()

    def close(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _count_slack(declared: int) -> int:
    """Frames a container's declared count may exceed what decodes without a fault (an estimate from
    duration x rate in some containers): 1 frame, or 2 %."""
    return max(1, declared // 50)


class FolderSource:
    """The images of a folder in sorted name order (or one image); unreadable files are skipped."""

    live = False
    fps = FOLDER_FPS

    def __init__(self, spec: SourceSpec):
        target = Path(spec.target)
        self.description = spec.description if target.is_dir() else f"image {target}"
        self.path = target
        self.files = sorted(p for p in target.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) \
            if target.is_dir() else [target]
        if not self.files:
            raise SourceError(f"no images in {target} (looked for {', '.join(IMAGE_SUFFIXES)})")
        self.skipped = 0
        self._next = 0

    def read(self) -> np.ndarray | None:
        cv2 = import_cv2()
        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grey or RGBA files come back as BGR
            if image is not None:
                return image
            self.skipped += 1
        return None

    def reopen(self) -> bool:
        return False

    def close(self) -> None:
        pass
