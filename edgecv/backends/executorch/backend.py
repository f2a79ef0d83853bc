"""The `executorch` Backend object: its precisions, and which builder, runner and reader it uses."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..base import Artifact, ArtifactMetadata, BaseBackend, Precision, Runner

INSTALL = "pip install 'edgecv[executorch]'"


class ExecuTorchBackend(BaseBackend):
    name = "executorch"
    suffix = ".pte"
    extra = "executorch"
    format = "executorch"
    modules = ("executorch",)
    options = ("max_batch",)

    def __init__(self):
        super().__init__([
            Precision("fp32", summary="XNNPACK-delegated .pte"),
            Precision("int8", needs_calibration=True, integer=True, summary="PT2E XNNPACKQuantizer, static INT8"),
        ])
        for p in self._precisions:
            self.attach_builder(p, self._builder_for(p))

    def available(self) -> tuple[bool, str]:
        """Installed, and its compiled runtime loads against this torch (the wheel links libtorch)."""
        if importlib.util.find_spec("executorch") is None:
            return False, f"executorch not installed: {INSTALL}"
        from .runner import runtime_problem

        problem = runtime_problem()
        return (False, f"{problem}: {INSTALL} with the torch it was built for") if problem else (True, "")

    def _builder_for(self, precision: str):
        def build(model, sample, calibration, out_dir: Path, options) -> Artifact:
            from .builder import build_pte

            return build_pte(model, sample, precision, calibration, Path(out_dir), options)

        return build

    def load(self, artifact: Artifact, threads: int | None = None) -> Runner:
        from .runner import ExecuTorchRunner

        return ExecuTorchRunner(artifact.path, artifact.metadata, threads)

    def inspect(self, path: str | Path) -> ArtifactMetadata:
        from .runner import describe_pte

        return describe_pte(Path(path))

