"""Data: ImageFolder, the embedded digits set, CIFAR-10, transforms, calibration sources."""
from .calibration import CalibrationSource
from .datasets import DataBundle, build_data
from .spec import AugmentSpec, DataSpec

__all__ = ["AugmentSpec", "CalibrationSource", "DataBundle", "DataSpec", "build_data"]
