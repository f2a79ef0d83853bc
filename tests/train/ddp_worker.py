"""Run under torchrun: trains one epoch on the digits with DDP (gloo) and writes rank 0's weights."""
import sys

import torch
import torch.distributed as dist

from edgecv.data import DataSpec, build_data
from edgecv.data.loaders import make_loader
from edgecv.models import create_model
from edgecv.train.loop import fit
from edgecv.train.spec import TrainSpec
from edgecv.train.tasks import ClassificationTask


def main(out: str) -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    cfg = {"input_size": (3, 16, 16), "mean": (0.5,) * 3, "std": (0.25,) * 3}
    data = build_data(DataSpec(source="digits", image_size=16, max_train=200, max_val=50), cfg)
    model = create_model("cifar_resnet20", num_classes=10)
    loader = make_loader(data.train, 25, True, seed=0)
    assert len(loader) == 4, len(loader)  # 200 images, 2 ranks, batch 25: the sampler shards the data
    summary = fit(ClassificationTask(model), model, loader, make_loader(data.val, 50, False),
                  TrainSpec(epochs=2, lr=0.05), out_dir=out, seed=0)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    gathered = [torch.zeros_like(weights) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, weights)
    if dist.get_rank() == 0:
        assert torch.equal(gathered[0], gathered[1]), "DDP replicas diverged"
        print(f"DDP_OK world={dist.get_world_size()} epochs={summary['epochs_run']}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
