"""The on-screen window: showing frames and reading keys (q or Esc quits, s saves a snapshot)."""
from __future__ import annotations

import os
import sys

import numpy as np

from .opencv import import_cv2

QUIT, SNAPSHOT = "quit", "snapshot"
_KEYS = {ord("q"): QUIT, ord("Q"): QUIT, 27: QUIT, ord("s"): SNAPSHOT, ord("S"): SNAPSHOT}
NO_WINDOW_HINT = "run with --headless (add --save out.mp4 to keep the overlaid video)"


def key_action(key: int) -> str | None:
    """What a cv2.waitKey code asks for: QUIT, SNAPSHOT or None."""
    return _KEYS.get(key & 0xFF) if key >= 0 else None


class Window:
    def __init__(self, title: str):
        cv2 = import_cv2()
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # checked first: some GUI backends abort the whole process when there is no display
            raise RuntimeError(f"no display to open a window on (DISPLAY is not set): {NO_WINDOW_HINT}")
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise RuntimeError(f"this OpenCV has no window support (opencv-python-headless?): {NO_WINDOW_HINT}, "
                               "or pip install opencv-python") from None
        self.title = title

    def show(self, image: np.ndarray) -> str | None:
        import_cv2().imshow(self.title, image)
        return self.poll()

    def poll(self) -> str | None:
        """Handle window events; QUIT also when the user closed the window."""
        cv2 = import_cv2()
        action = key_action(cv2.waitKey(1))
        if action is None and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return QUIT
        return action

    def close(self) -> None:
        cv2 = import_cv2()
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually remove it
        except cv2.error:
            pass
