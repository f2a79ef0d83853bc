"""How much memory one image costs a model at run time, from the model itself where it can be read.

    per_image_bytes(artifact)   # (bytes, how the figure was found)

For an ONNX file: ONNX shape inference at batch 1 gives every intermediate tensor's size, and walking
the nodes in order, adding each output and dropping each tensor after its last reader, gives the
most activation memory alive at once (what a runtime's memory planner needs at least). That peak x
RUNTIME_SLACK (ONNX Runtime's arena grows in doubling chunks and its layout transforms keep copies),
plus the input held twice (the numpy batch and the runtime's copy), is the estimate. Other files, or
an ONNX graph whose shapes do not resolve, fall back to the input x ACTIVATION_FACTOR rule of thumb.
"""
from __future__ import annotations

from pathlib import Path

RUNTIME_SLACK = 2.0

_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # onnx.TensorProto


def per_image_bytes(artifact) -> tuple[int | None, str]:
    """(bytes one image needs, how that was found); (None, ...) when the input size is unknown."""
    from ..utils.memory import ACTIVATION_FACTOR, batch_memory_bytes

    chw = list(artifact.metadata.input_shape)[1:4]
    if len(chw) != 3 or not all(isinstance(d, int) and d > 0 for d in chw):
        return None, "unknown input size"
    input_bytes = batch_memory_bytes(1, chw, factor=1)
    if Path(artifact.path).suffix.lower() == ".onnx":
        peak = onnx_activation_peak(artifact.path)
        if peak:
            return int(peak * RUNTIME_SLACK + 2 * input_bytes), \
                f"the model's activations, {peak / 2**10:,.0f} KiB at most alive at once (ONNX shape inference), x {RUNTIME_SLACK:g}"
    return input_bytes * ACTIVATION_FACTOR, f"input x {ACTIVATION_FACTOR} for activations"


def onnx_activation_peak(path: str | Path) -> int | None:
    """The most bytes of intermediate tensors alive at once for one image (batch 1), or None when the
    graph's shapes do not resolve (or onnx is not installed)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load(str(path), load_external_data=False)
        for value in model.graph.input:  # a symbolic batch becomes 1; a fixed one stays as built
            dims = value.type.tensor_type.shape.dim
            if dims and not dims[0].dim_value:
                dims[0].dim_value = 1
        graph = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # an odd graph: the rule of thumb instead
        return None
    weights = {t.name for t in graph.initializer}
    sizes = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        size = _tensor_bytes(value)
        if size is not None:
            sizes[value.name] = size
    batch = _batch_of(graph, weights)
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            last_use[name] = i
    keep = {o.name for o in graph.output}
    live = {v.name for v in graph.input if v.name not in weights}
    peak = 0
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name and name not in weights:
                if name not in sizes:
                    return None  # a shape that did not resolve: no honest figure
                live.add(name)
        peak = max(peak, sum(sizes.get(n, 0) for n in live))
        live = {n for n in live if last_use.get(n, -1) > i or n in keep}
    return peak // batch if peak else None


def _tensor_bytes(value) -> int | None:
    t = value.type.tensor_type
    if not t.HasField("shape") or t.elem_type not in _ELEMENT_BYTES:
        return None
    n = 1
    for d in t.shape.dim:
        if not d.dim_value:
            return None
        n *= d.dim_value
    return n * _ELEMENT_BYTES[t.elem_type]


def _batch_of(graph, weights: set[str]) -> int:
    """The batch the graph was inferred at (1, or a fixed batch the file was built with)."""
    for value in graph.input:
        if value.name not in weights:
            dims = value.type.tensor_type.shape.dim
            if dims and dims[0].dim_value:
                return int(dims[0].dim_value)
    return 1
