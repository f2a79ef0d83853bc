"""The OpenCV camera/video demo over a Predictor (the `demo` extra).

    from edgecv.app import Predictor
    from edgecv.demo import run_demo
    stats = run_demo(Predictor("model.tflite"), "0" | "clip.mp4" | "photos/" | "rtsp://...",
                     topk=3, save="out.mp4", log=print)

- sources.py: what --source names (camera, video file, image folder, stream) and opening it;
- capture.py: the reader thread, its bounded queue (live sources drop stale frames), reconnects;
- loop.py: the run loop (`run_demo`) and the up-front input check; stats.py: what it measured;
- overlay.py: drawing; window.py: the window and its keys; output.py: --save and snapshots;
- opencv.py: the one import of cv2 (a missing install names the extra).

Importing this package does not import OpenCV.
"""
from ..utils.lazy import lazy_getattr

_LAZY = {
    "run_demo": ("loop", "run_demo"),
    "DemoOptions": ("loop", "DemoOptions"),
    "check_input_fits": ("loop", "check_input_fits"),
    "DemoStats": ("stats", "DemoStats"),
    "FrameRecord": ("stats", "FrameRecord"),
    "FrameReader": ("capture", "FrameReader"),
    "Reconnect": ("capture", "Reconnect"),
    "FrameSource": ("sources", "FrameSource"),
    "SourceError": ("sources", "SourceError"),
    "SourceSpec": ("sources", "SourceSpec"),
    "open_source": ("sources", "open_source"),
    "parse_source": ("sources", "parse_source"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
