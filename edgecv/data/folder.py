"""ImageFolder with errors that name the folder or file at fault."""
from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def load_image(path: str):
    """Open an image as RGB; a corrupt or unreadable file raises ValueError naming it."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except Exception as e:
        raise ValueError(f"cannot read image {path}: {e}") from None


def class_folders(root: str | Path) -> list[str]:
    """The sorted class folder names of `root`; a missing root or one without folders raises naming it."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{root} has no class folders (expected {root}/<class>/<image>)")
    return classes


def check_image_folder(root: str | Path) -> list[str]:
    """Return sorted class names; raise a clear error for a missing root or an empty class folder."""
    root = Path(root)
    classes = class_folders(root)
    for c in classes:
        if not any(f.suffix.lower() in IMAGE_EXTENSIONS for f in (root / c).rglob("*") if f.is_file()):
            raise ValueError(f"class folder {root / c} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return classes


def image_folder(root: str | Path, transform=None, class_names: list[str] | None = None):
    """A torchvision ImageFolder over `root` whose loader reports the file that fails to decode."""
    from torchvision.datasets import ImageFolder

    classes = check_image_folder(root)
    if class_names is not None and classes != list(class_names):
        raise ValueError(
            f"class folders of {root} {classes} do not match the expected classes {list(class_names)}"
        )
    return ImageFolder(str(root), transform=transform, loader=load_image, is_valid_file=_is_image)


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)
