"""The `prune` stage in a recipe: prunes the student with KD fine-tuning, records every step, and the
run's saved student reloads with its pruned shapes."""
import torch

from edgecv.models import load_model_file as load_model
from edgecv.recipe import validate_recipe
from edgecv.utils.profile import count_macs


def test_recipe_prunes_the_student_and_saves_a_replayable_model(tmp_path):
    from edgecv.pipeline import run_recipe

    recipe = validate_recipe({
        "name": "prune-test", "device": "cpu",
        "data": {"source": "digits", "image_size": 32, "max_train": 64, "max_val": 40, "batch_size": 32, "workers": 0},
        "teacher": {"name": "cifar_resnet20"},
        "student": {"name": "cifar_resnet20"},
        "stages": [{"type": "prune", "macs_ratio": 0.6, "steps": 2, "measure_latency": False,
                    "finetune": {"epochs": 1, "max_steps_per_epoch": 1}}],
    })
    ctx = run_recipe(recipe, out_dir=tmp_path / "run")
    student = ctx.models["student"]
    record = ctx.records[-1]
    assert record["teacher"] == "teacher" and len(record["steps"]) == 3
    assert all(s["top1"] is not None for s in record["steps"])
    assert record["steps"][-1]["macs_ratio"] <= 0.6
    assert count_macs(student, (1, 3, 32, 32)) < 0.61 * count_macs(ctx.models["teacher"], (1, 3, 32, 32))
    assert (tmp_path / "run" / "stages" / "0_prune" / "prune_steps.md").is_file()
    assert any("prune step 1" in r["name"] for r in ctx.results)
    loaded, _ = load_model(record["model_files"]["student"])
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(loaded.eval()(x), student.eval()(x), atol=1e-6)


class _CountingLoader:
    """A loader that remembers how often it was read: which split picked the fine-tune's best epoch."""

    def __init__(self, batches):
        self.batches, self.reads = batches, 0

    def __iter__(self):
        self.reads += 1
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def test_select_loader_picks_epochs_and_val_only_reports(tmp_path):
    from edgecv.models import create_model
    from edgecv.prune.iterative import prune_model

    torch.manual_seed(0)
    batches = [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))) for _ in range(2)]
    val, select = _CountingLoader(batches), _CountingLoader(batches[:1])
    model = create_model("cifar_resnet20", num_classes=10)
    res = prune_model(model, train_loader=batches, val_loader=val, select_loader=select, macs_ratio=0.7,
                      steps=2, measure_latency=False, bn_recalibration_batches=0,
                      finetune={"epochs": 2, "max_steps_per_epoch": 1})
    assert select.reads == 2 * 2  # one selection pass per fine-tune epoch, for both steps
    assert val.reads == 1  # read once, into the reused reporting batches
    assert len(res.steps) == 3 and all(s["top1"] is not None for s in res.steps)
