"""Distillation must pay off: at the same small budget on real CIFAR-10 images, a student distilled
from the pretrained ResNet-20 teacher beats the same student trained on labels alone.

KD's advantage shows up once training has run for a while (in the first few epochs plain
cross-entropy is ahead, measured here), so the budget is 1,000 images for 15 epochs.
"""
import pytest
import torch

from edgecv.data import DataSpec, build_data
from edgecv.data.loaders import make_loader
from edgecv.distill import build_distiller
from edgecv.models import create_model, data_config
from edgecv.train.loop import fit
from edgecv.train.spec import TrainSpec
from edgecv.train.tasks import ClassificationTask
from tests.conftest import need_shared


@pytest.mark.slow
def test_distilled_student_beats_label_only_student():
    teacher = create_model("cifar_resnet20", checkpoint=need_shared("teachers", "resnet20-12fca82f.th"))
    data = build_data(DataSpec(source="imagefolder", root=str(need_shared("cifar10")), max_train=1000, max_val=1000),
                      data_config(teacher), seed=0)
    spec = TrainSpec(epochs=15, lr=0.05, warmup_epochs=0.5)
    top1 = {}
    for mode in ("kd", "labels"):
        torch.manual_seed(0)
        student = create_model("mobilenetv3_small_050", num_classes=10, small_input=True)
        train, val = make_loader(data.train, 50, True, seed=0), make_loader(data.val, 250, False)
        if mode == "kd":
            task = build_distiller(student, [teacher], [{"name": "kd", "temperature": 4.0, "alpha": 0.9}], data.train[0][0][None])
        else:
            task = ClassificationTask(student)
        top1[mode] = fit(task, student, train, val, spec, seed=0)["best_top1"]
    assert top1["kd"] > top1["labels"] + 1.0, top1
