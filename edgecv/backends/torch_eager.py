"""The `torch` backend: eager PyTorch, the reference every other artifact is compared with."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import BACKENDS, Artifact, ArtifactMetadata, BaseBackend, FunctionRunner, Precision, Runner
from .metadata import artifact_metadata


class TorchBackend(BaseBackend):
    name = "torch"
    suffix = ".pt"
    extra = ""  # part of the core install
    format = "torch"
    modules = ("torch",)

    def __init__(self):
        super().__init__([Precision("fp32", summary="eager PyTorch, the reference")])
        self.attach_builder("fp32", self._build_fp32)

    def _build_fp32(self, model, sample, calibration, out_dir: Path, options) -> Artifact:
        """Save the model as an edgecv model file (weights + spec), so `load_model` rebuilds it."""
        from ..models import save_model

        meta = artifact_metadata(model, sample, "fp32", preprocess=options.get("preprocess"))
        path = Path(out_dir) / f"{meta.source_model}-fp32{self.suffix}"
        save_model(model, path, {"class_names": meta.class_names})
        art = Artifact(path, self.name, meta)
        art.save_metadata()
        return art

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from ..models import load_model

        model, _ = load_model(artifact.path)
        return module_runner(model, threads)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        """Shape, preprocessing, params and MACs of an edgecv model file."""
        from ..models import data_config, load_model, model_name
        from ..utils.profile import count_macs, count_params

        model, ckpt = load_model(path)
        saved = ckpt.get("data_config") or {}
        cfg = {**data_config(model), **saved}
        size = int(cfg["input_size"][-1])
        meta = ArtifactMetadata(source_model=model_name(model), input_shape=["batch", 3, size, size],
                                mean=[float(v) for v in cfg["mean"]], std=[float(v) for v in cfg["std"]],
                                class_names=ckpt.get("class_names"))
        meta.extra["params"] = count_params(model)
        try:
            meta.extra["macs"] = count_macs(model, (1, 3, size, size))
        except Exception:  # a model the flop counter cannot trace still gets its params
            meta.extra["macs"] = None
        return meta


def module_runner(model, threads: int | None = None, device=None) -> Runner:
    """A runner over an in-memory nn.Module (eval mode, inference_mode); logits come back as numpy.

    `threads` is applied on every call (torch's pool is process-wide), so torch rows run with the
    same explicit thread count as the other backends; CUDA work is synchronised by `.cpu()`."""
    import torch

    device = torch.device(device) if device is not None else next(iter(model.parameters()), torch.empty(0)).device
    model = model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(x).to(device)).float().cpu().numpy()

    return FunctionRunner(run, {"device": str(device), "threads": threads or torch.get_num_threads()})


BACKENDS.register("torch", TorchBackend())
