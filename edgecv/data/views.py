"""Views of a dataset: the training images seen through the validation transform (no augmentation),
what calibration and other measurements on training images need."""
from __future__ import annotations

import copy


def eval_view(train, val):
    """A shallow copy of the training set that uses the validation set's (deterministic) transform."""
    def inner(ds):
        return inner(ds.dataset) if hasattr(ds, "dataset") and not hasattr(ds, "transform") else ds

    t_val = getattr(inner(val), "transform", None)
    if t_val is None:
        return train
    view = copy.copy(train)
    base = inner(view)
    if base is not view:  # a Subset: copy its underlying dataset too, never touch the original
        view.dataset = copy.copy(view.dataset)
        base = inner(view)
    base.transform = t_val
    if hasattr(base, "transforms") and hasattr(base.transforms, "transform"):  # torchvision VisionDataset
        base.transforms = copy.copy(base.transforms)
        base.transforms.transform = t_val
    return view
