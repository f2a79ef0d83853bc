"""The shared CIFAR-10 teachers load strictly and reproduce their accuracy (data README facts)."""
import pytest

from edgecv.data import DataSpec, build_data
from edgecv.data.loaders import make_loader
from edgecv.eval.metrics import evaluate
from edgecv.models import create_model, data_config

from tests.conftest import need_shared


@pytest.mark.parametrize("name,file,expected", [("cifar_resnet20", "resnet20-12fca82f.th", 91.56),
                                                ("cifar_resnet56", "resnet56-4bfd9763.th", 92.86)])
def test_teacher_accuracy_on_val_subset(name, file, expected):
    ckpt = need_shared("teachers", file)
    root = need_shared("cifar10")
    model = create_model(name, checkpoint=ckpt)
    data = build_data(DataSpec(source="imagefolder", root=str(root), max_train=10, max_val=1000), data_config(model))
    m = evaluate(model, make_loader(data.val, 250, False), "cpu")
    assert m["n"] == 1000
    assert abs(m["top1"] - expected) < 2.5  # 1,000-image subset of the 5,000 the README measured
