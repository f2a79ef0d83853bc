"""Quantization-aware training with KD, for when post-training INT8 misses the accuracy budget.

PyTorch's recommended path (torchao PT2E; `torch.ao.quantization` is deprecated): export the model
with torch.export, insert fake quantization with the X86 quantizer's QAT config (per-channel
symmetric INT8 weights, UINT8 activations), fine-tune it through edgecv's one training loop with
the teacher's KD loss, convert, and export Q/DQ ONNX that ONNX Runtime runs as INT8.
"""
from __future__ import annotations

import contextlib
import dataclasses
import copy
import io
import warnings
from pathlib import Path
from typing import Sequence

from .spec import QATSpec


def _need_torchao():
    try:
        import torchao  # noqa: F401
    except ImportError:
        raise ImportError("QAT needs torchao: pip install 'edgecv[quantize]'") from None


def prepare_qat(model, sample, seven_bit_weights: bool = False):
    """A fake-quantized copy of `model` (a torch.export GraphModule that still trains); `model` is untouched.
    `seven_bit_weights`: weights in [-64, 63], for x86 without VNNI (8-bit ones saturate int16 there)."""
    _need_torchao()
    import dataclasses

    import torch
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer, get_default_x86_inductor_quantization_config)

    if sample.shape[0] < 2:  # batch norm in training mode needs more than one image
        sample = sample.repeat(2, *([1] * (sample.dim() - 1)))
    float_model = copy.deepcopy(model).cpu().train()
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = torch.export.export(float_model, (sample.cpu(),), dynamic_shapes=({0: batch},)).module()
        config = get_default_x86_inductor_quantization_config(is_qat=True)
        if seven_bit_weights:
            config = dataclasses.replace(config, weight=dataclasses.replace(config.weight, quant_min=-64, quant_max=63))
        quantizer = X86InductorQuantizer().set_global(config)
        prepared = prepare_qat_pt2e(graph, quantizer)
    allow_exported_model_train_eval(prepared)  # so the training loop's .train()/.eval() work
    prepared.edgecv_spec = getattr(model, "edgecv_spec", None)
    return prepared


def qat_finetune(model, train_loader, val_loader, spec: QATSpec, sample, teacher=None, out_dir: str | Path | None = None,
                 run=None, **run_fields):
    """Prepare `model` for QAT and fine-tune it (KD from `teacher`, a KDTeacher, when given; its losses
    default to spec.losses); returns (prepared, summary). `run` (a FitRun, or its fields: device, seed)
    says how; QAT never resumes. `seven_bit_weights` (a keyword): 7-bit weights, for x86 without VNNI."""
    from ..train.loop import FitRun, fit
    from ..train.tasks import ClassificationTask
    from ..utils.options import with_fields

    seven_bit_weights = bool(run_fields.pop("seven_bit_weights", False))
    run = with_fields(FitRun, run or FitRun(desc="qat"), {**run_fields, "resume": False}, "qat_finetune")
    prepared = prepare_qat(model, sample, seven_bit_weights)
    if teacher is not None:
        was = prepared.training
        teacher = teacher if teacher.losses is not None else dataclasses.replace(teacher, losses=spec.losses)
        task = teacher.distiller(prepared, sample.cpu())
        prepared.train(was)
    else:
        task = ClassificationTask(prepared, spec.label_smoothing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = fit(task, prepared, train_loader, val_loader, spec.train_spec(), out_dir, run)
    prepared.cpu()
    return prepared, summary


def export_qat_onnx(prepared, path: str | Path, input_shape: Sequence[int], metadata: dict | None = None,
                    opset: int = 18) -> Path:
    """Convert the fake-quantized model to Q/DQ and write it as ONNX (single file, dynamic batch)."""
    import importlib.util

    import onnx
    import torch
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    from ..export.onnx_export import INPUT_NAME, OUTPUT_NAME, ExportError, set_onnx_metadata
    from ..utils.errors import first_line
    from ..utils.io import atomic_path

    if importlib.util.find_spec("onnxscript") is None:
        raise ImportError("exporting a QAT model to ONNX needs onnxscript: pip install 'edgecv[quantize]'")
    converted = convert_pt2e(copy.deepcopy(prepared))
    move_exported_model_to_eval(converted)
    sample = torch.randn(*[int(d) for d in input_shape])
    batch = torch.export.Dim("batch", min=1, max=4096)
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(converted, (sample,), str(tmp), dynamo=True, external_data=False,
                                  opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                  dynamic_shapes=({0: batch},), verbose=False)
        except Exception as e:
            raise ExportError(f"ONNX export of the QAT model failed: {first_line(e)}") from e
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        if metadata:
            set_onnx_metadata(proto, metadata)
        onnx.save(proto, str(tmp))
    return path
