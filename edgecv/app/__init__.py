"""The application layer: what the CLI, the camera demo and the REST service share.

    model = load_model("cifar_resnet56" | "pruned.pt" | "runs/quickstart-.../", role="student")
    artifact = open_artifact("model.onnx")
    predictor = Predictor(artifact, threads=2); predictor.predict(image, k=3)

A Predictor is the one road from an image to an answer: size, crop, mean/std, layout and class
names come from the artifact's metadata, so `edgecv bench`, the demo and the service cannot
disagree about the same frame. Importing this package loads what higher layers add onto lower
ones (quantize's ONNX builders, prune's checkpoint extension).
"""
from .. import prune as _prune  # noqa: F401  (registers the `pruning` checkpoint extension)
from .. import quantize as _quantize  # noqa: F401  (attaches ONNX Runtime int8/fp16 builders)
from ..utils.lazy import lazy_getattr

_LAZY = {
    "LoadedModel": ("models", "LoadedModel"),
    "load_model": ("models", "load_model"),
    "run_model_file": ("models", "run_model_file"),
    "open_artifact": ("artifacts", "open_artifact"),
    "reference_model": ("artifacts", "reference_model"),
    "Predictor": ("predictor", "Predictor"),
    "Prediction": ("predictor", "Prediction"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = list(_LAZY)
