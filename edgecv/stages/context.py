"""The RunContext every stage receives: the run's models, data, artifacts and results, plus the
helpers stages share (loaders, preprocessing, calibration, teacher-input adaptation, artifact
registration), so no stage copies another's or imports another."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import REFERENCE_BACKEND, REFERENCE_PRECISION


def _role(entry: dict) -> str | None:
    return entry.get("role") or entry.get("model")


@dataclass
class RunContext:
    recipe: Any  # the validated Recipe (edgecv.recipe sits above the stages)
    out_dir: Path
    device: Any  # torch.device
    seed: int = 0
    models: dict[str, Any] = field(default_factory=dict)  # role -> nn.Module: teacher, teacher1.., student
    artifacts: list[dict] = field(default_factory=list)  # {"path", "backend", "role", "precision", "status", ...}
    results: list[dict] = field(default_factory=list)  # ledger rows (report.md / results.json)
    records: list[dict] = field(default_factory=list)  # one per finished stage
    resume: bool = False
    data_bundle: Any = None  # the DataBundle; built by the pipeline before any stage runs
    stage_index: int | None = None  # the stage running now (the pipeline sets it): messages name its keys
    _calibration: dict = field(default_factory=dict)

    # --- models and data -------------------------------------------------------------------------
    @property
    def data(self):
        """The run's DataBundle (train/val datasets, classes, size, mean/std)."""
        if self.data_bundle is None:
            raise RuntimeError("the run's data is not built yet")
        return self.data_bundle

    def model(self, role: str):
        if role not in self.models:
            raise KeyError(f"no model with role '{role}' in this run (have: {', '.join(self.models)})")
        return self.models[role]

    def teacher_roles(self) -> list[str]:
        return [r for r in self.models if r.startswith("teacher")]

    @property
    def preprocess(self) -> dict:
        """What every artifact records about its input: the run's mean, std and class names."""
        d = self.data
        return {"mean": list(d.mean), "std": list(d.std), "class_names": list(d.class_names)}

    def preprocess_with(self, class_names=None) -> dict:
        """`preprocess` with a stage's own `class_names` (a list, or a class names file) instead of the
        data's; refused unless there is one name per class."""
        if class_names is None:
            return self.preprocess
        from ..bench.classmap import check_class_names, read_class_names

        where = f"stages.{self.stage_index}.class_names" if self.stage_index is not None else "class_names"
        names = read_class_names(class_names) if isinstance(class_names, str) else check_class_names(class_names, where)
        if len(names) != self.data.num_classes:
            raise ValueError(f"{where}: {len(names)} names for the data's {self.data.num_classes} classes")
        return {**self.preprocess, "class_names": names}

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.data.image_size, self.data.image_size)

    def sample(self):
        """A batch-1 zero input of the run's shape (what exporters trace with)."""
        import torch

        return torch.zeros(self.input_shape)

    def sample_batch(self, n: int = 2):
        """`n` real training images (shapes for feature hooks, QAT's export)."""
        import torch

        train = self.data.train
        return torch.stack([train[i][0] for i in range(min(n, len(train)))])

    def loaders(self, batch_size: int | None = None):
        """(train, val) loaders; the train order depends only on (seed, epoch), so resume is exact."""
        from ..data.loaders import make_loader

        d, spec = self.data, self.recipe.data
        train = make_loader(d.train, batch_size or spec.batch_size, True, self.seed, spec.workers)
        val = make_loader(d.val, spec.eval_batch_size, False, self.seed, spec.workers)
        return train, val

    def evalset(self, max_images: int | None = None, batch_size: int = 64):
        """The val split as the harness's EvalSet (a stratified, seeded subset with `max_images`)."""
        from ..bench import EvalSet

        d = self.data
        ds = d.val
        if max_images:
            from ..data.subset import stratified_subset

            ds = stratified_subset(d.val, max_images, self.seed)
        return EvalSet(ds, d.class_names, batch_size=batch_size, source="the run's validation split")

    def calibration(self, size: int = 256, batch_size: int = 32):
        """Training images with the evaluation transform (never val images, never augmented); one
        source per (size, batch) for the whole run, so every backend calibrates on the same images."""
        key = (size, batch_size)
        if key not in self._calibration:
            from ..data import CalibrationSource
            from ..data.views import eval_view

            self._calibration[key] = CalibrationSource(eval_view(self.data.train, self.data.val), size, batch_size, self.seed)
        return self._calibration[key]

    def teacher_input(self, role: str):
        """The adapter that re-normalises the run's inputs for teacher `role` (identity when it
        expects the run's own mean/std)."""
        from ..distill import renormalize_for

        return renormalize_for(self.model(role), self.data.mean, self.data.std)

    # --- artifacts and results -------------------------------------------------------------------
    def add_artifact(self, entry: dict, role: str) -> dict:
        """Record an artifact (a BuildResult's `record`, or any dict with path/backend/precision/status)."""
        entry = {**entry, "role": role, "model": role}
        if entry.get("path"):
            self.artifacts = [a for a in self.artifacts if a.get("path") != entry["path"]]
        self.artifacts.append(entry)
        return entry

    def artifacts_of(self, role: str | None = None, backend: str | None = None, precision: str | None = None,
                     ok_only: bool = True) -> list[dict]:
        out = []
        for a in self.artifacts:
            if role is not None and _role(a) != role:
                continue
            if backend is not None and a.get("backend") != backend:
                continue
            if precision is not None and a.get("precision") != precision:
                continue
            if ok_only and (a.get("status") != "ok" or not a.get("path") or not Path(a["path"]).is_file()):
                continue
            out.append(a)
        return out

    def find_artifact(self, role: str, backend: str, precision: str = REFERENCE_PRECISION):
        """The newest working artifact of `role` on `backend` at `precision`, as an Artifact, or None."""
        from ..backends import Artifact

        hits = self.artifacts_of(role, backend, precision)
        return Artifact.from_path(hits[-1]["path"], backend) if hits else None

    def add_result(self, row: dict) -> None:
        """Add or replace a ledger row (keyed by name, role, backend, precision, batch and emulated class). Every
        row says which CPU it was measured on (arch and the features that decide quantized kernels, edgecv.targets);
        an emulated row's come from its class."""
        from ..targets import host_target

        row.setdefault("cpu_features", host_target().compact())

        def key(r: dict) -> tuple:
            return (r.get("name"), r.get("role"), r.get("backend", REFERENCE_BACKEND), r.get("precision", REFERENCE_PRECISION),
                    r.get("batch", 1), r.get("emulated"))

        self.results = [r for r in self.results if key(r) != key(row)]
        self.results.append(row)


def artifact_role(entry: dict) -> str | None:
    """The run role an artifact entry belongs to."""
    return _role(entry)
