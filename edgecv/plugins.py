"""The plugins a process needs, in one place: `load_plugins()`.

Every registry names the plugins of its own layer and imports them on its first look-up: backends (a
package edgecv/backends/<name>/, one line in BACKEND_PACKAGES), stages (a file, one line in
STAGE_MODULES), distillation losses (LOSSES), pruning importances (every file of
edgecv/prune/importances/) and edgecv's model families (MODEL_FAMILIES, registered with timm).

What a higher layer adds onto a lower one cannot be named below it, so it is named here: the prune
layer's `pruning` checkpoint extension (pruned model files save and load their history) and the
quantize layer's int8/fp16 builders of the onnxruntime backend. `load_plugins()` imports them, once.
The pipeline calls it before a run; importing the application layer (`edgecv.app`: the front door
the CLI, the demo, the service and the sweep go through) calls it.
"""
from __future__ import annotations

from importlib import import_module

# kind -> (module, registry): each registry imports its own plugins on first look-up
REGISTRIES = {
    "backend": ("edgecv.backends.base", "BACKENDS"),
    "stage": ("edgecv.stages.registry", "STAGES"),
    "distillation loss": ("edgecv.distill.registry", "LOSSES"),
    "importance": ("edgecv.prune.importance", "IMPORTANCES"),
    "checkpoint extension": ("edgecv.models.extensions", "CHECKPOINT_EXTENSIONS"),
}
# what higher layers attach to lower ones: imported by load_plugins
ATTACHMENTS = (
    "edgecv.prune.checkpoint",  # the `pruning` checkpoint extension
    "edgecv.quantize.onnx_builders",  # int8 and fp16 builders of the onnxruntime backend
)
_loaded = False


def load_plugins(everything: bool = False) -> None:
    """Attach what higher layers add to lower ones (once). With `everything`, fill every registry now
    as well (otherwise each fills itself when first asked, which may import torch)."""
    global _loaded
    if not _loaded:
        for module in ATTACHMENTS:
            import_module(module)
        _loaded = True
    if everything:
        for registry in registries().values():
            registry.load()


def registries() -> dict:
    """{kind: the registry}, for tools that list what is installed."""
    return {kind: getattr(import_module(module), name) for kind, (module, name) in REGISTRIES.items()}
