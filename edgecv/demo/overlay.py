"""Drawing the answer onto a frame: the top-k labels with scores, the smoothed FPS and inference ms."""
from __future__ import annotations

import unicodedata

import numpy as np

from .opencv import import_cv2

PANEL_DIM = 0.35  # the panel behind the text keeps this much of the picture's brightness
TEXT_COLOUR = (255, 255, 255)  # BGR
TOP1_COLOUR = (80, 255, 80)


def overlay_lines(prediction, fps: float, infer_ms: float) -> list[str]:
    ranked = zip(prediction.labels, prediction.scores, prediction.indices)
    lines = [f"{rank}. {ascii_label(label, index)} {score:.0%}" for rank, (label, score, index) in enumerate(ranked, 1)]
    rate = f"{fps:.1f}" if fps > 0 else "--"  # one frame has no rate yet
    lines.append(f"{rate} FPS  {infer_ms:.1f} ms")
    return lines


def draw_overlay(image: np.ndarray, prediction, fps: float, infer_ms: float) -> np.ndarray:
    """Draw onto `image` in place (the caller owns the frame) and return it."""
    cv2 = import_cv2()
    lines = overlay_lines(prediction, fps, infer_ms)
    h, w = image.shape[:2]
    scale = max(0.3, min(h, w) / 720)  # readable on a 720p camera, still fits a thumbnail
    thickness = max(1, round(scale * 1.5))
    font = cv2.FONT_HERSHEY_SIMPLEX
    sizes = [cv2.getTextSize(line, font, scale, thickness) for line in lines]
    line_h = max(th + base for (_, th), base in sizes) + max(2, round(4 * scale))
    pad = max(2, round(6 * scale))
    panel_w = min(w, max(tw for (tw, _), _ in sizes) + 2 * pad)
    panel_h = min(h, line_h * len(lines) + pad)
    panel = image[:panel_h, :panel_w]
    panel[:] = (panel.astype(np.float32) * PANEL_DIM).astype(np.uint8)  # darken so white text reads on any scene
    for i, line in enumerate(lines):
        colour = TOP1_COLOUR if i == 0 else TEXT_COLOUR
        cv2.putText(image, line, (pad, pad + line_h * i + sizes[i][0][1]), font, scale, colour, thickness, cv2.LINE_AA)
    return image


def ascii_label(label: str, index: int) -> str:
    """OpenCV's Hershey fonts draw ASCII only: 'café' becomes 'cafe' rather than 'caf??', and a
    label with no ASCII at all becomes its class index."""
    text = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode().strip()
    return text or f"class {index}"
