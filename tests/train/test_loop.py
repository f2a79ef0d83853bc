import time

import pytest
import torch

from edgecv.data import DataSpec, build_data
from edgecv.data.loaders import make_loader
from edgecv.models import create_model
from edgecv.train.loop import fit
from edgecv.train.spec import TrainSpec
from edgecv.train.tasks import ClassificationTask

CFG = {"input_size": (3, 16, 16), "mean": (0.5,) * 3, "std": (0.25,) * 3}


def _setup(seed=0):
    torch.manual_seed(seed)
    data = build_data(DataSpec(source="digits", image_size=16, max_train=300, max_val=100), CFG, seed=0)
    model = create_model("cifar_resnet20", num_classes=10)
    return model, make_loader(data.train, 50, True, seed), make_loader(data.val, 100, False)


SPEC = TrainSpec(epochs=3, lr=0.05, warmup_epochs=0.5, label_smoothing=0.1)


def test_fit_writes_checkpoints_and_metrics(tmp_path):
    model, tr, va = _setup()
    out = fit(ClassificationTask(model, 0.1), model, tr, va, SPEC, tmp_path, seed=0)
    assert out["epochs_run"] == 3 and len(out["history"]) == 3
    assert out["history"][-1]["train_loss"] < 0.8 * out["history"][0]["train_loss"]  # it learns
    assert out["best_top1"] == max(h["val_top1"] for h in out["history"])
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "last.pt").is_file()
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 4
    assert any((tmp_path / "tensorboard").iterdir())
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_resume_after_kill_equals_uninterrupted_run(tmp_path):
    model, tr, va = _setup()
    ref = fit(ClassificationTask(model, 0.1), model, tr, va, SPEC, tmp_path / "ref", seed=0)

    def kill_after_first_epoch(epoch, row):
        if epoch == 0:
            raise KeyboardInterrupt

    model2, tr2, va2 = _setup()
    with pytest.raises(KeyboardInterrupt):
        fit(ClassificationTask(model2, 0.1), model2, tr2, va2, SPEC, tmp_path / "run", seed=0, on_epoch_end=kill_after_first_epoch)
    model3, tr3, va3 = _setup(seed=123)  # a fresh process: other init, weights come from last.pt
    out = fit(ClassificationTask(model3, 0.1), model3, tr3, va3, SPEC, tmp_path / "run", seed=0)
    assert [h["train_loss"] for h in out["history"]] == [h["train_loss"] for h in ref["history"]]
    for a, b in zip(model.state_dict().values(), model3.state_dict().values()):
        assert torch.equal(a, b)


def test_early_stopping_stops(tmp_path):
    model, tr, va = _setup()
    spec = TrainSpec(epochs=20, lr=1e-9, early_stopping=2, max_steps_per_epoch=1)  # lr too small to improve
    out = fit(ClassificationTask(model), model, tr, va, spec, tmp_path)
    assert out["stopped_early"] and out["epochs_run"] < 20


def test_adamw_and_bf16_autocast_run():
    model, tr, va = _setup()
    spec = TrainSpec(epochs=1, optimizer="adamw", lr=1e-3, amp="bf16", max_steps_per_epoch=2)
    out = fit(ClassificationTask(model), model, tr, va, spec)
    assert out["epochs_run"] == 1


def test_channels_last_bf16_trains_and_hands_back_the_usual_layout():
    model, tr, va = _setup()
    spec = TrainSpec(epochs=2, lr=0.05, amp="bf16", channels_last=True)
    out = fit(ClassificationTask(model), model, tr, va, spec)
    assert out["history"][-1]["train_loss"] < out["history"][0]["train_loss"]  # it learns in NHWC + bf16
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous() for w in convs)  # export and pruning get NCHW weights back


def test_time_limit_anneals_the_cosine_and_stops_on_time():
    model, tr, va = _setup()
    spec = TrainSpec(epochs=1000, lr=0.05, time_limit_min=0.1, keep="last")  # far more epochs than 6 s allow
    t0 = time.perf_counter()
    out = fit(ClassificationTask(model), model, tr, None, spec)
    assert out["time_up"] and 1 <= out["epochs_run"] < 1000
    assert time.perf_counter() - t0 < 6 + 10  # the limit, plus at most one step and the bookkeeping
    assert out["history"][-1]["lr"] < 0.01 * spec.lr  # the clock drove the cosine to its end: annealed weights
    plain = fit(ClassificationTask(model), model, tr, va, TrainSpec(epochs=1, max_steps_per_epoch=1))
    assert plain["time_up"] is False


def test_threads_apply_while_training_and_are_restored():
    model, tr, va = _setup()
    before = torch.get_num_threads()
    seen = []
    spec = TrainSpec(epochs=1, max_steps_per_epoch=1, threads=1)
    fit(ClassificationTask(model), model, tr, va, spec, None, on_epoch_end=lambda e, row: seen.append(torch.get_num_threads()))
    assert seen == [1] and torch.get_num_threads() == before
