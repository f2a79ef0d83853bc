"""PyTorch -> TFLite with litert-torch (no TensorFlow), in four precisions.

- fp32:    litert_torch.convert of the eval model.
- fp16:    the fp32 flatbuffer with float16 weights (ai-edge-quantizer FLOAT_CASTING, weight-only).
- dynamic: the fp32 flatbuffer with int8 per-channel weights, activations quantised at run time
           (ai-edge-quantizer dynamic_wi8_afp32: TFLite's "dynamic-range" hybrid kernels).
- int8:    full-integer PT2E: torch.export -> litert's PT2EQuantizer (int8, per-channel weights)
           -> calibration on the recipe's data -> convert. Input and output tensors are int8;
           the runner quantises/dequantises with their scale and zero-point.

Models are exported with batch 1 (what TFLite runtimes and delegates expect); by default the graph
takes channel-last (NHWC) input, what camera pipelines on phones and boards produce.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from ...utils.errors import first_line
from ...utils.io import atomic_path, quiet_native_output

PRECISIONS = ("fp32", "fp16", "dynamic", "int8")
LAYOUTS = ("NHWC", "NCHW")
INSTALL_HINT = "pip install 'edgecv[tflite]' (installs litert-torch and ai-edge-litert)"


class TFLiteConversionError(RuntimeError):
    """litert-torch or ai-edge-quantizer failed; the message names the model and the step."""


def require_converter() -> None:
    import importlib.util

    for mod in ("litert_torch", "ai_edge_litert", "ai_edge_quantizer"):
        if importlib.util.find_spec(mod) is None:
            raise ImportError(f"TFLite export needs the '{mod}' package: {INSTALL_HINT}")


def convert_to_tflite(
    model,
    sample_shape: tuple[int, ...],
    precision: str,
    path: str | Path,
    calibration=None,
    layout: str = "NHWC",
) -> Path:
    """Write `model` as a .tflite file at `path` (atomic). `sample_shape` is NCHW (C, H, W used)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown TFLite precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
    layout = layout.upper()
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout '{layout}'; choose NHWC (channel-last, mobile) or NCHW")
    if precision == "int8" and calibration is None:
        raise ValueError("TFLite full-integer int8 needs calibration images: pass --calib-data DIR (or a recipe's data)")
    require_converter()
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")  # its step log floods the console

    import torch

    from ...models import model_name

    name = model_name(model)
    c, h, w = (int(d) for d in tuple(sample_shape)[1:4])
    if calibration is not None:
        calibration.check_shape([1, c, h, w], what=f"model '{name}'")
    net = _cpu_eval_copy(model)
    if layout == "NHWC":
        with quiet_native_output():  # importing it starts native libraries that log to the console
            import litert_torch

        net = litert_torch.to_channel_last_io(net, args=[0]).eval()
    example = torch.zeros((1, h, w, c) if layout == "NHWC" else (1, c, h, w))

    # The converter's native libraries log to the console (absl, oneDNN, XNNPACK notices); errors still
    # arrive as exceptions with their message.
    with quiet_native_output():
        if precision == "int8":
            content = _convert_int8(net, example, calibration, layout, name)
        else:
            content = _convert_float(net, example, name)
            if precision == "fp16":
                content = _post_quantize(content, "fp16", name)
            elif precision == "dynamic":
                content = _post_quantize(content, "dynamic", name)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)
    return path


def _cpu_eval_copy(model):
    """A CPU eval copy: the caller's model keeps its device and train/eval mode."""
    net = copy.deepcopy(model).to("cpu").eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _convert_float(net, example, name: str) -> bytes:
    import litert_torch
    import torch

    try:
        with torch.no_grad():
            return bytes(litert_torch.convert(net, (example,)).model_content())
    except Exception as e:
        raise TFLiteConversionError(f"TFLite conversion of '{name}' failed (litert-torch): {first_line(e, 500)}") from e


def _convert_int8(net, example, calibration, layout: str, name: str) -> bytes:
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer as pq
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
    try:  # a dynamic batch for calibration only: observers see whole batches (much faster than 1 by 1)
        batch = torch.export.Dim("batch", min=1, max=1024)
        shapes = (({0: batch},),) if layout == "NHWC" else ({0: batch},)  # the NHWC wrapper takes *args
        pair = example.expand(2, *example.shape[1:])  # batch 2: export specialises a size-1 dim to 1
        graph = torch.export.export(net, (pair,), dynamic_shapes=shapes).module()
        prepared = move_exported_model_to_eval(quantize_pt2e.prepare_pt2e(graph, quantizer))
    except Exception as e:
        raise TFLiteConversionError(f"PT2E int8 preparation of '{name}' failed (torch.export): {first_line(e, 500)}") from e
    with torch.no_grad():
        for images in calibration:
            x = np.asarray(images, dtype=np.float32)
            prepared(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "NHWC" else x)))
    try:
        quantized = move_exported_model_to_eval(quantize_pt2e.convert_pt2e(prepared, fold_quantize=False))
        quantized.training = False  # eval-mode ops are in place; the flag itself only silences litert's warning
        with torch.no_grad():  # converted with the batch-1 example: the .tflite has a fixed batch of 1
            edge = litert_torch.convert(quantized, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
        return bytes(edge.model_content())
    except Exception as e:
        raise TFLiteConversionError(f"TFLite int8 conversion of '{name}' failed (litert-torch PT2E): {first_line(e, 500)}") from e


def _post_quantize(content: bytes, kind: str, name: str) -> bytes:
    """fp16 weights or dynamic-range int8 on an fp32 flatbuffer, with ai-edge-quantizer."""
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe, recipe_manager

    if kind == "fp16":
        rm = recipe_manager.RecipeManager()
        rm.add_weight_only_config(
            regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
            algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING,
        )
        spec = rm.get_quantization_recipe()
    else:
        spec = recipe.dynamic_wi8_afp32()
    try:
        result = quantizer.Quantizer(bytearray(content), spec).quantize(enable_progress_report=False)
    except Exception as e:
        raise TFLiteConversionError(f"TFLite {kind} quantization of '{name}' failed (ai-edge-quantizer): {first_line(e, 500)}") from e
    return bytes(result.quantized_model)
