"""Mixup/CutMix in the training loop (also under KD) and `keep: last`."""
import pytest
import torch
import torch.nn as nn
from pydantic import ValidationError

from edgecv.data.loaders import make_loader
from edgecv.distill import build_distiller
from edgecv.models import create_model
from edgecv.train.loop import fit
from edgecv.train.spec import TrainSpec
from edgecv.train.tasks import ClassificationTask

from .test_loop import _setup

MIX = dict(mixup=0.2, cutmix=1.0, lr=0.05)


class Recorder(nn.Module):
    """Passes batches to a task and keeps what the loop handed it."""

    def __init__(self, task: nn.Module):
        super().__init__()
        self.task, self.seen = task, []

    def forward(self, x, y):
        self.seen.append((x.detach().clone(), y.detach().clone()))
        return self.task(x, y)


def test_mixed_batches_carry_probability_targets_into_kd():
    model, tr, va = _setup()
    teacher = create_model("cifar_resnet20", num_classes=10).eval()
    task = Recorder(build_distiller(model, [teacher], [{"name": "kd", "alpha": 0.5}], next(iter(tr))[0][:2]))
    out = fit(task, model, tr, va, TrainSpec(epochs=1, **MIX))
    assert out["epochs_run"] == 1
    ys = torch.cat([y for _, y in task.seen])
    assert ys.shape == (300, 10)  # every batch (of 50: even) was mixed; targets are class-probability rows
    assert torch.allclose(ys.sum(1), torch.ones(300))
    assert (ys.max(1).values < 1).float().mean() > 0.5  # most rows really are mixtures of two labels
    assert torch.isfinite(torch.tensor(out["history"][0]["train_loss"]))


def test_mix_prob_zero_and_odd_batches_stay_unmixed():
    model, tr, va = _setup()
    task = Recorder(ClassificationTask(model))
    fit(task, model, tr, va, TrainSpec(epochs=1, max_steps_per_epoch=2, mixup=1.0, mix_prob=0.0))
    assert all(y.dim() == 1 for _, y in task.seen)

    task = Recorder(ClassificationTask(model))
    odd = make_loader(tr.dataset, 49, True)  # 300 images: six batches of 49 (odd: no pairs), then one of 6
    fit(task, model, odd, va, TrainSpec(epochs=1, mixup=1.0))
    assert [y.dim() for _, y in task.seen] == [1] * 6 + [2]


def test_resume_with_mixing_equals_uninterrupted_run(tmp_path):
    spec = TrainSpec(epochs=2, max_steps_per_epoch=3, **MIX)
    model, tr, va = _setup()
    ref = fit(ClassificationTask(model), model, tr, va, spec, tmp_path / "ref", seed=0)

    def kill_after_first_epoch(epoch, row):
        if epoch == 0:
            raise KeyboardInterrupt

    model2, tr2, va2 = _setup()
    with pytest.raises(KeyboardInterrupt):
        fit(ClassificationTask(model2), model2, tr2, va2, spec, tmp_path / "run", seed=0, on_epoch_end=kill_after_first_epoch)
    model3, tr3, va3 = _setup(seed=7)
    torch.manual_seed(99)  # global RNGs in another state, as in a new process: the loop must reseed them
    import numpy as np

    np.random.seed(99)
    out = fit(ClassificationTask(model3), model3, tr3, va3, spec, tmp_path / "run", seed=0)
    assert [h["train_loss"] for h in out["history"]] == [h["train_loss"] for h in ref["history"]]
    for a, b in zip(model.state_dict().values(), model3.state_dict().values()):
        assert torch.equal(a, b)


def test_keep_last_trains_without_val_and_keeps_the_final_weights(tmp_path):
    model, tr, _ = _setup()
    out = fit(ClassificationTask(model), model, tr, None, TrainSpec(epochs=2, max_steps_per_epoch=2, keep="last"), tmp_path)
    assert out["best_epoch"] == 2 and all(h["val_top1"] is None for h in out["history"])
    last = torch.load(tmp_path / "last.pt", weights_only=True)["task"]
    for name, value in model.state_dict().items():
        assert torch.equal(value, last[f"model.{name}"])


def test_keep_best_without_val_and_early_stopping_with_keep_last_are_refused():
    model, tr, _ = _setup()
    with pytest.raises(ValueError, match="keep: last"):
        fit(ClassificationTask(model), model, tr, None, TrainSpec(epochs=1))
    with pytest.raises(ValidationError, match="early_stopping"):
        TrainSpec(early_stopping=2, keep="last")


def test_mixing_needs_a_class_count():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10))
    _, tr, va = _setup()
    with pytest.raises(ValueError, match="num_classes"):
        fit(ClassificationTask(model), model, tr, va, TrainSpec(epochs=1, mixup=0.2))
