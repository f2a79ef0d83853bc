"""Bytes -> an RGB image, refusing what is not an image, truncated, or too large to decode safely.

Two steps, so the caller can decide where the expensive one runs: `open_image` parses the header
only (microseconds, whatever the file) and checks the pixel limit on the header's width x height,
so a tiny file that claims 100,000 x 100,000 pixels (a decompression bomb) costs nothing;
`load_rgb` then decodes the pixels. Only raster formats Pillow decodes itself are opened (no
EPS/PDF, which would run external programs).
"""
from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from .errors import ClientError

FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF", "PPM")


class ImageRejected(ClientError):
    """400 (not an image, truncated, odd shape) or 413 (too many pixels), with the reason."""


def open_image(data: bytes, max_pixels: int, max_aspect_ratio: float = 20.0) -> Image.Image:
    """The image's header, checked; nothing decoded yet. `max_aspect_ratio` bounds long side / short
    side: resizing the short side to the model's size must not blow the long one up."""
    from ..utils.errors import first_line

    if not data:
        raise ImageRejected(400, "empty body: send the image's bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:  # the Warning when run with -W error
        raise ImageRejected(413, f"image too large: {first_line(e)}") from None
    except UnidentifiedImageError:
        raise ImageRejected(400, f"not an image: expected one of {', '.join(FORMATS)}") from None
    except Exception as e:  # a header Pillow recognises but cannot parse
        raise ImageRejected(400, f"unreadable image: {first_line(e)}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(413, f"image too large: {width}x{height} = {width * height:,} pixels, "
                                 f"the limit is {max_pixels:,}")
    if width < 1 or height < 1:
        raise ImageRejected(400, f"image has no pixels ({width}x{height})")
    if max(width, height) > max_aspect_ratio * min(width, height):
        raise ImageRejected(400, f"image too elongated: {width}x{height}, the limit is {max_aspect_ratio:g}:1")
    return image


def load_rgb(image: Image.Image) -> Image.Image:
    """Decode an `open_image` result into RGB pixels; truncated or corrupt data is refused."""
    from ..utils.errors import first_line

    try:
        image.load()  # Pillow refuses truncated data here (LOAD_TRUNCATED_IMAGES stays off)
        return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(413, f"image too large: {first_line(e)}") from None
    except Exception as e:  # OSError 'image file is truncated', SyntaxError, zlib and struct errors, ...
        raise ImageRejected(400, f"truncated or corrupt {image.format} image: {first_line(e)}") from None


def decode_image(data: bytes, max_pixels: int, max_aspect_ratio: float = 20.0) -> Image.Image:
    """Both steps: the image in `data` as RGB, or ImageRejected saying why not."""
    return load_rgb(open_image(data, max_pixels, max_aspect_ratio))
