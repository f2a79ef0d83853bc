"""The application layer, edgecv's one front door: what the CLI, the camera demo, the REST service and
the sweep go through, and what `import edgecv` exports.

    model = load_model("cifar_resnet56" | "pruned.pt" | "runs/quickstart-.../", role="student")
    onnx = export(model, "model.onnx")                       # ExportResult: artifact, parity
    int8 = quantize(onnx.path, "model-int8.onnx", calib_data="train/")
    rows = benchmark(int8.artifact.path, data="val/").rows
    pruned = prune(model, "pruned.pt", macs_ratio=0.5, finetune_data="data/")
    ctx = run("recipes/quickstart.yaml")
    predictor = Predictor(open_artifact("model.onnx"), threads=2); predictor.predict(image, k=3)

Each workflow takes one model or file and typed options (ExportOptions, QuantizeOptions, PruneOptions,
BenchmarkOptions; or their fields as keywords) and returns a typed result. A Predictor is the one road
from an image to an answer: size, crop, mean/std, layout and class names come from the artifact's
metadata, so `edgecv bench`, the demo and the service cannot disagree about the same frame.

Importing this package loads the plugins (edgecv.plugins.load_plugins): everything the layers add onto
each other (quantize's ONNX builders, prune's checkpoint extension) is there for every workflow.
"""
from ..plugins import load_plugins
from ..utils.lazy import lazy_getattr

load_plugins()

_LAZY = {
    "LoadedModel": ("models", "LoadedModel"),
    "ModelSource": ("models", "ModelSource"),
    "load_model": ("models", "load_model"),
    "run_model_file": ("models", "run_model_file"),
    "open_artifact": ("edgecv.backends.files", "open_artifact"),
    "reference_model": ("artifacts", "reference_model"),
    "Predictor": ("predictor", "Predictor"),
    "Prediction": ("predictor", "Prediction"),
    "export": ("exporting", "export"),
    "ExportOptions": ("exporting", "ExportOptions"),
    "ExportResult": ("exporting", "ExportResult"),
    "quantize": ("quantizing", "quantize"),
    "QuantizeOptions": ("quantizing", "QuantizeOptions"),
    "QuantizeResult": ("edgecv.quantize.api", "QuantizeResult"),
    "prune": ("pruning", "prune"),
    "PruneOptions": ("pruning", "PruneOptions"),
    "PruneResult": ("edgecv.prune.iterative", "PruneResult"),
    "benchmark": ("benchmarking", "benchmark"),
    "BenchmarkOptions": ("benchmarking", "BenchmarkOptions"),
    "BenchmarkResult": ("benchmarking", "BenchmarkResult"),
    "run": ("running", "run"),
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["load_plugins", *_LAZY]
