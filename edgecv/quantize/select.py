"""Which nodes of an ONNX graph a `keep_fp32` entry names: an ONNX operator type, or a pattern.

Patterns are found by the graph's structure, not by node names, so they hold for any exporter:

- `stem`: the first Conv reading the image and the activation after it (Relu, Clip, HardSwish, SiLU...).
- `se`: squeeze-excitation blocks: the global average (ReduceMean / GlobalAveragePool) of a feature map,
  the small Conv/Gemm chain on it, its Sigmoid/HardSigmoid gate and the Mul that scales the features.
- `hardswish`: HardSwish nodes, and the HardSigmoid + Mul pairs ONNX Runtime's pre-processing inlines
  them into (`x * HardSigmoid(x)`). The operator type `HardSwish` names them too.
- `depthwise`: grouped Conv with one input channel per group (MobileNet's 3x3 depthwise convolutions).

    select_nodes(onnx.load("prepared.onnx").graph, ["se", "HardSigmoid"])  # {"se": [...], "HardSigmoid": [...]}
"""
from __future__ import annotations

import functools
from typing import Iterable

PATTERNS = {
    "stem": "the first Conv and its activation",
    "se": "squeeze-excitation blocks (global average -> 1x1 convs -> sigmoid gate -> Mul)",
    "hardswish": "HardSwish, also when inlined as x * HardSigmoid(x)",
    "depthwise": "grouped Conv with one input channel per group",
}
ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "PRelu", "HardSwish", "Elu", "Selu", "Tanh", "Gelu", "Softplus", "Mish")
GATES = ("Sigmoid", "HardSigmoid")
GLOBAL_AVERAGES = ("ReduceMean", "GlobalAveragePool")
SE_PATH_OPS = ("Conv", "Gemm", "MatMul", "Add", "Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "Mul",
               "Reshape", "Flatten", "Squeeze", "Unsqueeze", "BatchNormalization")
SE_MAX_DEPTH = 12  # nodes between the global average and the gate


def check_entry(entry: str) -> str:
    """`entry` if it is a pattern or an ONNX operator type, else a one-line ValueError naming it."""
    if entry in PATTERNS:
        return entry
    known = _onnx_op_types()
    if known is None or entry in known:  # without onnx installed, quantizing reports it later
        return entry
    from ..registry import did_you_mean

    same = next((k for k in [*PATTERNS, *sorted(known)] if k.lower() == entry.lower()), None)
    hint = f" (did you mean '{same}'?)" if same else did_you_mean(entry, [*PATTERNS, *known])
    raise ValueError(f"'{entry}' is neither an ONNX operator type nor a pattern ({', '.join(PATTERNS)}){hint}")


def select_nodes(graph, entries: Iterable[str]) -> dict[str, list[str]]:
    """{entry: names of the nodes it matches, in graph order}; nodes must have names (see ptq_onnx.name_nodes)."""
    out = {}
    for entry in entries:
        if entry == "HardSwish":
            entry_nodes = _hardswish(graph)
        elif entry in PATTERNS:
            entry_nodes = {"stem": _stem, "se": _se, "hardswish": _hardswish, "depthwise": _depthwise}[entry](graph)
        else:
            entry_nodes = {n.name for n in graph.node if n.op_type == entry}
        out[entry] = [n.name for n in graph.node if n.name in entry_nodes]
    return out


@functools.lru_cache(maxsize=1)
def _onnx_op_types() -> frozenset[str] | None:
    try:
        import onnx
    except ImportError:
        return None
    return frozenset(s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain in ("", "ai.onnx"))


def _consumers(graph) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def _attr(node, name: str, default=None):
    return next((a for a in node.attribute if a.name == name), default)


def _depthwise(graph) -> set[str]:
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    out = set()
    for n in graph.node:
        group = _attr(n, "group")
        w = shapes.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if group is not None and group.i > 1 and (w is None or (len(w) > 1 and w[1] == 1)):
            out.add(n.name)
    return out


def _hardswish(graph) -> set[str]:
    """HardSwish nodes and x * HardSigmoid(x) pairs (the same x on both sides)."""
    consumers = _consumers(graph)
    out = {n.name for n in graph.node if n.op_type == "HardSwish"}
    for n in graph.node:
        if n.op_type != "HardSigmoid":
            continue
        x = n.input[0]
        for m in consumers.get(n.output[0], []):
            if m.op_type == "Mul" and x in m.input:
                out |= {n.name, m.name}
    return out


def _stem(graph) -> set[str]:
    inputs = {i.name for i in graph.input} - {t.name for t in graph.initializer}
    consumers = _consumers(graph)
    first = next((n for n in graph.node if n.op_type == "Conv" and n.input and n.input[0] in inputs), None)
    if first is None:
        first = next((n for n in graph.node if n.op_type == "Conv"), None)
    if first is None:
        return set()
    out, y = {first.name}, first.output[0]
    for c in consumers.get(y, []):
        if c.op_type in ACTIVATIONS:
            out.add(c.name)
        elif c.op_type in GATES:  # x * sigmoid(x) (SiLU) or x * HardSigmoid(x) (inlined HardSwish)
            muls = [m for m in consumers.get(c.output[0], []) if m.op_type == "Mul" and y in m.input]
            if muls:
                out |= {c.name, *(m.name for m in muls)}
    return out


def _se(graph) -> set[str]:
    """For each Mul(x, gate(...)) whose gate's inputs lead back, through small ops, to a global average of x."""
    producer = {o: n for n in graph.node for o in n.output}
    out = set()
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        for x, g in (mul.input, mul.input[::-1]):
            gate = producer.get(g)
            if gate is None or gate.op_type not in GATES or gate.input[0] == x:  # x * HardSigmoid(x) is a HardSwish
                continue
            path = _path_to_average(gate, x, producer)
            if path:
                out |= {mul.name, *path}
    return out


def _path_to_average(gate, x: str, producer: dict) -> set[str]:
    """The nodes from a global average of `x` up to `gate` (inclusive), or an empty set."""
    parent = {gate.name: None}  # breadth-first up the producers; each node remembers who asked for it
    frontier = [gate]
    for _ in range(SE_MAX_DEPTH):
        nxt = []
        for node in frontier:
            for i in node.input:
                p = producer.get(i)
                if p is None or p.name in parent:
                    continue
                if p.op_type in GLOBAL_AVERAGES and p.input[0] == x:
                    path, at = {p.name}, node.name
                    while at is not None:
                        path.add(at)
                        at = parent[at]
                    return path
                if p.op_type in SE_PATH_OPS:
                    parent[p.name] = node.name
                    nxt.append(p)
        frontier = nxt
    return set()
