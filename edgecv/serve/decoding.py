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


# Bytes a pixel takes in Pillow's memory while an image is decoded and made RGB, by mode: the decoded
# pixels (1-bit, L and P: 1 byte; 16-bit: 2; everything else, RGB included, 4) plus, for any mode but
# RGB, the RGB copy (4). Measured with VmHWM on Pillow 11-12: RGB 4, L/P/1 5, I;16 6, RGBA/LA/I/CMYK 8,
# F 9; WebP's decoder keeps its own RGBA buffer as well (RGB 16 in all).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
FORMAT_BYTES = {"WEBP": 12}
SLACK_BYTES = 2  # per pixel: decoder buffers (a TIFF strip, a PNG row filter), F's conversion through L
FIXED_BYTES = 2**20  # per image: decoder state, Python objects, the small resized copy


def reduce_on_decode(image: Image.Image, min_side: int) -> None:
    """Where the format can decode at a smaller scale, ask for it: a JPEG is decoded by its DCT at
    1/2, 1/4 or 1/8 size (Pillow's `draft`), as long as both sides stay >= `min_side`. Other formats
    decode at full size. Call before `load_rgb`; `image.size` is the size that will be decoded."""
    if image.format == "JPEG" and min(image.size) > 2 * min_side:
        image.draft("RGB", (min_side, min_side))


def decode_bytes(image: Image.Image) -> int:
    """Peak bytes `load_rgb` will hold for this (opened, maybe drafted) image: its pixels x the bytes a
    pixel takes while decoding and converting (MODE_BYTES, FORMAT_BYTES)."""
    width, height = image.size
    per_pixel = MODE_BYTES.get(image.mode, 4) + (0 if image.mode == "RGB" else 4)
    return width * height * (per_pixel + FORMAT_BYTES.get(image.format, 0) + SLACK_BYTES) + FIXED_BYTES


def load_rgb(image: Image.Image) -> Image.Image:
    """Decode an `open_image` result into RGB pixels; truncated or corrupt data is refused."""
    from ..utils.errors import first_line

    try:
        image.load()  # Pillow refuses truncated data here (LOAD_TRUNCATED_IMAGES stays off)
        return image if image.mode == "RGB" else image.convert("RGB")  # convert() would copy an RGB image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(413, f"image too large: {first_line(e)}") from None
    except Exception as e:  # OSError 'image file is truncated', SyntaxError, zlib and struct errors, ...
        raise ImageRejected(400, f"truncated or corrupt {image.format} image: {first_line(e)}") from None


def decode_image(data: bytes, max_pixels: int, max_aspect_ratio: float = 20.0) -> Image.Image:
    """Both steps: the image in `data` as RGB, or ImageRejected saying why not."""
    return load_rgb(open_image(data, max_pixels, max_aspect_ratio))
