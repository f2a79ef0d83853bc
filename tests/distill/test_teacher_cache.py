"""Cached teacher outputs (distill/cache.py): epochs that replay a data epoch never run the teacher,
the labels they get are the teacher's for exactly those (augmented, mixed) batches, and a batch that
differs from the recorded one gets the live teacher, never another batch's labels."""
import pytest
import torch
import torch.nn as nn

from edgecv.data import DataSpec, build_data
from edgecv.data.loaders import make_loader
from edgecv.distill import build_distiller
from edgecv.distill.cache import TeacherCache, batch_checksum, cache_key
from edgecv.models import create_model
from edgecv.train.loop import fit
from edgecv.train.spec import TrainSpec


class CountingTeacher(nn.Module):
    """A teacher that counts its forward passes and records each batch's inputs and logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.calls = 0
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x):
        self.calls += 1
        out = self.model(x)
        self.seen.append((x.detach().clone(), out.detach().clone()))
        return out


class RecordingCache(TeacherCache):
    """Keeps what each hit handed out, with the batch it was for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.served: list[tuple[torch.Tensor, list[torch.Tensor]]] = []

    def lookup(self, x, y):
        got = super().lookup(x, y)
        if got is not None:
            self.served.append((x.detach().clone(), got))
        return got


def _setup(seed=0):
    torch.manual_seed(seed)
    data = build_data(DataSpec(source="digits", image_size=16, max_train=96, max_val=40), {"mean": (0.5,) * 3, "std": (0.5,) * 3})
    teacher = CountingTeacher(create_model("cifar_resnet8", num_classes=10).eval())
    student = create_model("cifar_resnet8", num_classes=10)
    task = build_distiller(student, [teacher], [{"name": "kd", "temperature": 4.0, "alpha": 0.9}], data.train[0][0][None])
    teacher.calls, teacher.seen = 0, []
    return data, teacher, student, task


def test_replayed_epochs_take_the_teachers_labels_for_the_same_mixed_batches(tmp_path):
    data, teacher, student, task = _setup()
    cache = RecordingCache(tmp_path, "k", views=2)
    task.use_cache(cache)
    train, val = make_loader(data.train, 16, True, seed=0), make_loader(data.val, 40, False)
    spec = TrainSpec(epochs=4, lr=0.05, mixup=0.4, cutmix=1.0, threads=1)  # seeded mixing of every batch
    fit(task, student, train, val, spec, seed=0)

    steps = len(train)
    assert teacher.calls == 2 * steps  # data epochs 0 and 1, labelled once each
    assert cache.hits == 2 * steps and cache.mismatches == 0
    # epochs 2 and 3 saw exactly the batches of epochs 0 and 1 (same order, augmentation and mixing),
    # and got the teacher's logits for them (stored as float16)
    for (x_live, logits_live), (x_replay, served) in zip(teacher.seen, cache.served):
        assert torch.equal(x_live, x_replay)
        torch.testing.assert_close(served[0], logits_live, atol=2e-2, rtol=2e-3)
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["view000.pt", "view001.pt"]


def test_a_second_run_reuses_the_cache_and_trains_the_same(tmp_path):
    results = []
    for run in range(2):
        data, teacher, student, task = _setup()
        cache = TeacherCache(tmp_path, "shared", views=3)
        task.use_cache(cache)
        train, val = make_loader(data.train, 16, True, seed=0), make_loader(data.val, 40, False)
        summary = fit(task, student, train, val, TrainSpec(epochs=3, lr=0.05, threads=1), seed=0)
        results.append((teacher.calls, cache.hits, summary["best_top1"]))
    (calls_first, hits_first, _), (calls_second, hits_second, _) = results
    assert calls_first == 3 * len(train) and hits_first == 0
    assert calls_second == 0 and hits_second == 3 * len(train)  # the teacher never ran in the second run
    assert abs(results[0][2] - results[1][2]) <= 5.0  # float16 labels: the same training up to rounding


def test_a_batch_that_differs_from_the_recorded_one_gets_the_live_teacher(tmp_path):
    cache = TeacherCache(tmp_path, "k", views=1)
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    logits = [torch.randn(4, 10)]
    cache.begin_epoch(0)
    assert cache.lookup(x, y) is None
    cache.store(x, y, logits)
    cache.end_epoch()

    cache.begin_epoch(1)  # replays data epoch 0
    torch.testing.assert_close(cache.lookup(x, y)[0], logits[0], atol=1e-2, rtol=1e-3)
    cache.begin_epoch(2)
    other = x.clone()
    other[0, 0, 0, 0] += 0.5
    assert cache.lookup(other, y) is None and cache.mismatches == 1
    assert cache.lookup(x, y) is None  # beyond the recorded batches: a miss, not an error


def test_checksum_ignores_summation_order_but_not_content():
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8)
    assert batch_checksum(x, y) == batch_checksum(x.clone(), y.clone())
    assert batch_checksum(x.flip(0), y) != batch_checksum(x, y)  # same images, other order


def test_cache_key_follows_teacher_weights_and_settings():
    a = create_model("cifar_resnet8", num_classes=10)
    key = cache_key([a], batch_size=16, seed=0)
    assert key == cache_key([a], batch_size=16, seed=0)
    assert key != cache_key([a], batch_size=32, seed=0)
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    assert key != cache_key([a], batch_size=16, seed=0)


def test_feature_losses_refuse_the_cache(tmp_path):
    torch.manual_seed(0)
    teacher, student = create_model("cifar_resnet8", num_classes=10).eval(), create_model("cifar_resnet8", num_classes=10)
    task = build_distiller(student, [teacher], [{"name": "hint", "pairs": [{"student": "layer2", "teacher": "layer2"}]}],
                           torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="teacher_cache stores logits only"):
        task.use_cache(TeacherCache(tmp_path, "k", views=1))
