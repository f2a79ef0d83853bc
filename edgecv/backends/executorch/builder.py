"""PyTorch -> ExecuTorch .pte: torch.export, PT2E INT8 with XNNPACKQuantizer, lowering to XNNPACK."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...utils.io import atomic_path
from ..base import Artifact
from ..metadata import artifact_metadata

BACKEND = "executorch"
TOOLS = ("torch", "executorch", "torchao")
METADATA_METHOD = "edgecv_metadata"  # a constant method of the program returning edgecv's metadata as JSON


def build_pte(model, sample, precision: str, calibration, out_dir: Path, options) -> Artifact:
    import torch

    chw = tuple(int(d) for d in tuple(sample.shape)[1:])
    batch, max_batch = int(sample.shape[0]), _max_batch(options.get("max_batch"))
    meta = artifact_metadata(model, sample, precision, TOOLS, options.get("preprocess"))
    meta.input_shape = ["batch", *chw] if max_batch else [batch, *chw]
    if max_batch:
        meta.extra["max_batch"] = max_batch
    from ...utils.profile import count_params, eval_mode

    meta.extra["params"] = count_params(model)
    with eval_mode(model), torch.no_grad():
        graph = model
        if precision == "int8":
            graph, n = quantize_int8(model, chw, calibration)
            meta.extra["quantization"] = {"tool": "torchao pt2e", "quantizer": "XNNPACKQuantizer",
                                          "scheme": "symmetric int8, per-channel weights", "calibration_images": n}
        program, delegation = lower(graph, chw, batch, max_batch, meta)
    meta.extra["delegation"] = delegation
    path = Path(out_dir) / f"{meta.source_model}-{precision}.pte"
    with atomic_path(path) as tmp:
        tmp.write_bytes(program.buffer)
    art = Artifact(path, BACKEND, meta)
    art.save_metadata()
    return art


def _max_batch(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"executorch option max_batch: {value!r} is not a batch size >= 2 (leave it out for a fixed batch)")
    return value


def quantize_int8(model, chw: tuple[int, int, int], calibration):
    """The model with PT2E INT8 quantize/dequantize pairs from XNNPACKQuantizer, calibrated on the
    calibration batches; (converted module, images used)."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph, per_image = _calibration_graph(model, chw)
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(graph, quantizer)
    n = 0
    for batch in calibration:
        images = np.asarray(batch, dtype=np.float32)
        if tuple(images.shape[1:]) != chw:
            raise ValueError(f"calibration images have shape {tuple(images.shape[1:])} but the model takes {chw}")
        # whole batches: the activation observers (histograms) cost per call, ~7x less time than per image
        for chunk in ([im[None] for im in images] if per_image else [images]):
            prepared(torch.from_numpy(np.ascontiguousarray(chunk)))
        n += len(images)
    if not n:
        raise ValueError("executorch int8: the calibration data holds no images")
    return convert_pt2e(prepared), n


def _calibration_graph(model, chw):
    """(exported module, whether it takes one image at a time): a dynamic batch where the model
    exports with one, else a batch of 1."""
    import torch

    try:
        dynamic = ({0: torch.export.Dim("batch")},)
        return torch.export.export(model, (torch.zeros(2, *chw),), dynamic_shapes=dynamic).module(), False
    except Exception:  # code that fixes the batch (e.g. a reshape to 1): calibrate image by image
        return torch.export.export(model, (torch.zeros(1, *chw),)).module(), True


def lower(module, chw, batch: int, max_batch: int | None, meta):
    """(ExecutorchProgramManager, what was delegated) of `module` lowered to XNNPACK, with `meta` as
    the program's METADATA_METHOD."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    if max_batch:  # an example of 2: torch.export specialises a batch of 1 to a constant
        example, dynamic = torch.zeros(2, *chw), ({0: torch.export.Dim("batch", min=1, max=max_batch)},)
    else:
        example, dynamic = torch.zeros(batch, *chw), None
    exported = torch.export.export(module, (example,), dynamic_shapes=dynamic)
    text = json.dumps(asdict(meta), default=str)
    edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()], constant_methods={METADATA_METHOD: text})
    delegation = _delegation(edge.exported_program().graph)  # before to_executorch adds its memory ops
    return edge.to_executorch(), delegation


def _delegation(graph) -> dict:
    """XNNPACK subgraphs and the operators left outside them (those run on portable kernels)."""
    targets = [str(n.target) for n in graph.nodes if n.op == "call_function"]
    left = sorted({t.split(".")[1] if t.count(".") >= 2 else t for t in targets
                   if "call_delegate" not in t and "getitem" not in t})
    return {"xnnpack_subgraphs": sum("call_delegate" in t for t in targets), "undelegated_ops": left}
