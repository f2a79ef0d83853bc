"""Writing what the demo shows: the overlaid video (--save) and snapshots (the s key)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .opencv import import_cv2

FOURCC = "mp4v"  # in every OpenCV wheel (no system FFmpeg encoders needed); plays in common players
DEFAULT_FPS = 10.0  # for sources that report no rate
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv")  # containers that take mp4v


def check_save_path(save: str | Path, protected: dict[str, Path | None], overwrite: bool = False) -> Path:
    """`save` as a Path, refused when it names one of the `protected` files ({"artifact": path,
    "source": path}): the demo writes a new file, it never overwrites what it reads; an existing file
    is replaced only with `overwrite` (--force)."""
    out = Path(save).expanduser()
    for what, path in protected.items():
        if path is not None and _same_file(out, Path(path)):
            raise ValueError(f"refusing to save the video over the {what} {path}; choose another file name")
    if out.is_file() and not overwrite:
        raise FileExistsError(f"cannot save the video to {out}: {out} exists; pass --force to replace it, "
                              "or choose another file name")
    if out.suffix.lower() not in VIDEO_SUFFIXES:  # checked here: FFmpeg would print its own complaint first
        raise ValueError(f"cannot save the video as {out.name}: the demo writes {FOURCC} video; "
                         f"use a name ending in {', '.join(VIDEO_SUFFIXES)}")
    if out.is_dir():
        raise ValueError(f"cannot save the video to {out}: it is a folder; give a file name such as out.mp4")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot save the video to {out}: folder {out.parent} does not exist")
    return out


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:  # `a` does not exist yet
        return False


class VideoSaver:
    """Frames go to a hidden temporary file next to `path`, renamed to `path` by `close(keep=True)`:
    a run that fails half-way never leaves a truncated video under the name asked for."""

    def __init__(self, path: str | Path, fps: float | None, size: tuple[int, int]):
        cv2 = import_cv2()
        self.path = Path(path)
        self.size = size  # (width, height): every frame is written at the first frame's size
        self.frames = 0
        self.saved: Path | None = None
        self._tmp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*FOURCC), float(fps or DEFAULT_FPS), size)
        if not self._writer.isOpened():
            self._writer.release()
            self._tmp.unlink(missing_ok=True)
            raise ValueError(f"cannot write video {self.path}: OpenCV has no {FOURCC} writer for "
                             f"'{self.path.suffix or 'no suffix'}'; use a name ending in .mp4")

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:  # a folder's images differ in size
            image = import_cv2().resize(image, self.size, interpolation=import_cv2().INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self, keep: bool) -> Path | None:
        """Finish the file: renamed to its final name when `keep` and a frame was written, else removed."""
        if self._writer is None:  # closed already
            return self.saved
        self._writer.release()
        self._writer = None
        if keep and self.frames:
            os.replace(self._tmp, self.path)
            self.saved = self.path
        else:
            self._tmp.unlink(missing_ok=True)
        return self.saved


def default_snapshot_dir() -> Path:
    """Where the `s` key's snapshots go unless a folder is given: $EDGECV_SNAPSHOTS, else
    ~/.edgecv/snapshots; never the current folder (a demo started anywhere must not litter it)."""
    import os

    return Path(os.environ.get("EDGECV_SNAPSHOTS", Path.home() / ".edgecv" / "snapshots"))


def save_snapshot(image: np.ndarray, folder: str | Path, frame_index: int) -> Path:
    cv2 = import_cv2()
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"edgecv-snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{frame_index:06d}.png"
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write snapshot {path}")
    return path
