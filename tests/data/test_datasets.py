import pickle

import numpy as np
import pytest
import torch

from edgecv.data import CalibrationSource, DataSpec, build_data
from edgecv.data.folder import image_folder

from tests.conftest import need_shared

CFG = {"input_size": (3, 32, 32), "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}


def test_digits_is_embedded_and_seeded():
    a = build_data(DataSpec(source="digits", image_size=32), CFG, seed=3)
    b = build_data(DataSpec(source="digits", image_size=32), CFG, seed=3)
    assert a.num_classes == 10 and len(a.train) + len(a.val) == 1797
    assert a.train[0][0].shape == (3, 32, 32)
    assert a.train.targets == b.train.targets


def test_imagefolder_any_size_and_subset(tiny_folder):
    d = build_data(DataSpec(source="imagefolder", root=str(tiny_folder), image_size=48), CFG)
    assert d.class_names == ["cat", "dog"] and d.train[0][0].shape == (3, 48, 48)
    small = build_data(DataSpec(source="imagefolder", root=str(tiny_folder), max_train=2), CFG)
    assert sorted(small.train.targets) == [0, 1]


def test_corrupt_image_names_the_file(tiny_folder):
    bad = tiny_folder / "train" / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    ds = image_folder(tiny_folder / "train")
    idx = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("broken.png")][0]
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        ds[idx]


def test_empty_class_folder_names_the_folder(tiny_folder):
    (tiny_folder / "train" / "empty_class").mkdir()
    with pytest.raises(ValueError, match="class folder .*empty_class holds no images"):
        build_data(DataSpec(source="imagefolder", root=str(tiny_folder)), CFG)


def test_val_classes_must_match_train(tiny_folder):
    (tiny_folder / "val" / "dog").rename(tiny_folder / "val" / "doggo")
    with pytest.raises(ValueError, match="do not match the expected classes"):
        build_data(DataSpec(source="imagefolder", root=str(tiny_folder)), CFG)


def test_cifar10_reads_an_existing_local_copy(tmp_path, monkeypatch):
    """torchvision's CIFAR10 layout, written here from real shared PNGs (no download)."""
    from PIL import Image

    root = need_shared("cifar10", "val")
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    imgs, labels = [], []
    for label, cls in enumerate(sorted(p.name for p in root.iterdir())):
        for f in sorted((root / cls).glob("*.png"))[:2]:
            imgs.append(np.asarray(Image.open(f).convert("RGB")).transpose(2, 0, 1).reshape(-1))
            labels.append(label)
    batch = {"data": np.stack(imgs), "labels": labels}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (base / name).write_bytes(pickle.dumps(batch))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": sorted(p.name for p in root.iterdir())}))
    import torchvision.datasets.cifar as tvc

    # torchvision checks md5s of the official archive; this copy is rebuilt locally from the PNGs.
    monkeypatch.setattr(tvc, "check_integrity", lambda *a, **k: True)
    d = build_data(DataSpec(source="cifar10", root=str(tmp_path)), CFG)
    assert d.class_names[0] == "airplane" and len(d.train) == 100 and d.val[0][0].shape == (3, 32, 32)


def test_cifar10_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download: true"):
        build_data(DataSpec(source="cifar10", root=str(tmp_path)), CFG)


def test_augmentation_is_seeded():
    spec = DataSpec(source="digits", image_size=32, augment={"rotation": 15, "color_jitter": 0.2})
    d = build_data(spec, CFG)
    torch.manual_seed(0)
    a = d.train[0][0]
    torch.manual_seed(0)
    assert torch.equal(a, d.train[0][0])


def test_calibration_source(tiny_folder):
    src = CalibrationSource.from_folder(tiny_folder / "val", 32, (0.5,) * 3, (0.25,) * 3, size=4, batch_size=3)
    batches = list(src)
    assert [b.shape for b in batches] == [(3, 3, 32, 32), (1, 3, 32, 32)] and batches[0].dtype == np.float32
    src.check_shape(["batch", 3, 32, 32])
    with pytest.raises(ValueError, match="expects"):
        src.check_shape([1, 3, 224, 224])
    reader = src.onnx_reader("input")
    feeds = [reader.get_next() for _ in range(5)]
    assert feeds[-1] is None and feeds[0]["input"].shape == (1, 3, 32, 32)
    empty = tiny_folder / "nothing"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        CalibrationSource.from_folder(empty, 32, (0.5,) * 3, (0.25,) * 3)
