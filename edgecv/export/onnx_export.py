"""PyTorch -> ONNX: opset >= 17, dynamic batch, cleaned with onnxslim, checked with onnx.checker.

The TorchScript exporter is the default: it needs no extra package and handles every model edgecv
builds (CIFAR ResNets, MobileNetV2/V3, SqueezeNet, pruned variants). `exporter="dynamo"` uses
torch.export (needs `onnxscript`) and always writes a single file (external_data=False).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

from ..utils.errors import first_line
from ..utils.io import atomic_path, quiet_native_output

MIN_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"
METADATA_KEY = "edgecv"  # ONNX metadata_props key holding the artifact metadata as JSON


class ExportError(RuntimeError):
    """The model could not be exported (unsupported op, failed check); the message says why."""


def export_onnx(
    model,
    path: str | Path,
    input_shape: Sequence[int] = (1, 3, 224, 224),
    opset: int = MIN_OPSET,
    exporter: str = "torchscript",
    simplify: bool = True,
    metadata: dict | None = None,
) -> Path:
    """Export `model` (eval mode, on CPU) to `path` atomically; returns the path."""
    import onnx
    import torch

    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is too old; edgecv exports opset >= {MIN_OPSET}")
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be NCHW (4 numbers), got {list(input_shape)}")
    path = Path(path)
    from ..models import model_name

    name = model_name(model)
    was_training = model.training
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    sample = torch.randn(*[int(d) for d in input_shape], device=device)
    try:
        with atomic_path(path) as tmp:
            try:
                _torch_export(model, sample, tmp, opset, exporter)
                proto = onnx.load(str(tmp))
            except ExportError:
                raise
            except Exception as e:  # unsupported op, tracing failure: name the model and the cause
                raise ExportError(f"ONNX export of '{name}' failed: {first_line(e, 500)}") from e
            if simplify:
                proto = _slim(proto, name)
            try:
                onnx.checker.check_model(proto, full_check=True)
            except Exception as e:
                raise ExportError(f"exported ONNX graph of '{name}' fails onnx.checker: {first_line(e, 500)}") from e
            _check_dynamic_batch(proto, name)
            if metadata:
                set_onnx_metadata(proto, metadata)
            onnx.save(proto, str(tmp))
    finally:
        model.train(was_training)
    return path


def set_onnx_metadata(proto, metadata: dict) -> None:
    """Store edgecv's artifact metadata inside the ONNX file (replacing an earlier entry), so the file
    describes itself even without its sidecar."""
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, default=str)


def _torch_export(model, sample, out: Path, opset: int, exporter: str) -> None:
    import torch

    if exporter == "torchscript":
        # On failure the exporter's C++ logger prints its whole IR graph to stderr; the error says enough.
        with warnings.catch_warnings(), torch.no_grad(), quiet_native_output():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notices
            torch.onnx.export(
                model, (sample,), str(out), dynamo=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
    elif exporter == "dynamo":
        import importlib.util

        if importlib.util.find_spec("onnxscript") is None:
            raise ExportError("exporter 'dynamo' needs onnxscript: pip install onnxscript (or use exporter 'torchscript')")
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(
            model, (sample,), str(out), dynamo=True, opset_version=opset, external_data=False,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch},),
        )
    else:
        raise ValueError(f"unknown exporter '{exporter}'; use 'torchscript' or 'dynamo'")


def _slim(proto, name: str):
    try:
        import onnxslim
    except ImportError:
        raise ImportError("ONNX export needs onnxslim: pip install 'edgecv[onnx]'") from None
    try:
        return onnxslim.slim(proto)
    except Exception as e:
        raise ExportError(f"onnxslim could not clean the ONNX graph of '{name}': {first_line(e, 500)}") from e


def _check_dynamic_batch(proto, name: str) -> None:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if not dims or not dims[0].dim_param:
        raise ExportError(f"exported ONNX graph of '{name}' has a fixed batch dimension; expected a dynamic one")
