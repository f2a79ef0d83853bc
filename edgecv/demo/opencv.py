"""The one place the demo imports OpenCV: a missing install names its pip extra, and OpenCV's own
log lines are quietened so that a failure reaches the user as one line of ours."""
from __future__ import annotations

import os

INSTALL_HINT = "pip install 'edgecv[demo]'"


def import_cv2():
    """`cv2`, or an ImportError that says which extra to install."""
    # FFmpeg reads its log level once, when OpenCV loads it; without this a refused stream prints
    # "[tcp @ 0x...] Connection refused" above our message. setdefault: a user's own setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    try:
        import cv2
    except ImportError as e:
        raise ImportError(f"the demo needs OpenCV ({e}): {INSTALL_HINT}") from None
    try:  # V4L2/FFmpeg warnings ("can't open camera by index") would repeat what we say in one line
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # builds without the logging module
        pass
    return cv2
