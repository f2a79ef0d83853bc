"""The `torch` backend: eager PyTorch, the reference every other artifact is compared with."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import BACKENDS, Artifact, Runner

PRECISIONS = ("fp32",)


class TorchBackend:
    name = "torch"
    suffix = ".pt"
    extra = ""  # part of the core install
    format = "torch"
    precisions = PRECISIONS

    def available(self) -> tuple[bool, str]:
        return True, ""

    def build(self, model, sample, precision: str, calibration, out_dir: Path) -> Artifact:
        """Save the model as an edgecv model file (weights + spec), so `load_model` rebuilds it."""
        from ..export.metadata import artifact_metadata
        from ..models import save_model

        if precision not in PRECISIONS:
            raise ValueError(f"torch backend builds {', '.join(PRECISIONS)} only, not '{precision}'")
        meta = artifact_metadata(model, sample, precision)
        path = Path(out_dir) / f"{meta.source_model}-{precision}{self.suffix}"
        save_model(model, path, {"class_names": meta.class_names})
        art = Artifact(path, self.name, meta)
        art.save_metadata()
        return art

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from ..models import load_model

        model, _ = load_model(artifact.path)
        return module_runner(model, threads)


def module_runner(model, threads: int | None = None, device=None) -> Runner:
    """A runner over an in-memory nn.Module (eval mode, inference_mode); logits come back as numpy."""
    import torch

    device = torch.device(device) if device is not None else next(iter(model.parameters()), torch.empty(0)).device
    model = model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        if threads and torch.get_num_threads() != threads:  # torch's pool is process-wide: set it per call
            torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(x).to(device)).float().cpu().numpy()

    run.info = {"device": str(device), "threads": threads or torch.get_num_threads()}
    return run


BACKENDS.register("torch", TorchBackend())
