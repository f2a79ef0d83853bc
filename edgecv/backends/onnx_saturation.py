"""Whether an ONNX INT8 file can saturate on x86 without VNNI, decided from its weights alone.

ONNX Runtime's integer kernels (MLAS) on x86 with AVX2 or AVX-512 but without VNNI multiply u8 activations
by s8 weights with VPMADDUBSW: two adjacent products are added into one *saturating* int16 before they are
widened to int32. With activations a0, a1 in [0, 255] the pair a0*w0 + a1*w1 lies between
-255 * (max(-w0, 0) + max(-w1, 0)) and 255 * (max(w0, 0) + max(w1, 0)), so it never saturates exactly when,
for every pair of weights the kernel puts side by side,

    max(w0, 0) + max(w1, 0) <= 128   and   max(-w0, 0) + max(-w1, 0) <= 128

(255 * 128 = 32640 fits int16; 255 * 129 = 32895 does not). Hence:
- 7-bit weights (|w| <= 64, ONNX Runtime's `reduce_range`) are always safe;
- 8-bit weights are not: a channel's largest weight is +-127 and any same-signed neighbour above 1 overflows;
- uint8 weights (U8U8) run a kernel that widens both operands to int16 first (VPMADDWD): safe;
- depthwise convolutions (one input channel per group) widen to int32 and form no pairs: not checked.

Which weights are paired: MLAS packs each output channel's weights in [kernel position, input channel] order
(QLinearConv's ReorderFilter and MlasConvSymPackW; MatMul/Gemm: along K) and pairs elements 2i and 2i+1, the
odd one out with a zero. VNNI (VPDPBUSD), AMX and ARM accumulate in int32 and never saturate.

    check = int8_saturation("model-int8.onnx")
    check.safe, check.summary()
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAIR_LIMIT = 128  # the largest same-signed pair sum of weights that 255 * sum keeps within int16
# (op type, index of the weight input, how its axes map to [output, reduction]) of the integer ops MLAS runs
QOPERATOR_WEIGHTS = {"QLinearConv": 3, "ConvInteger": 1, "QLinearMatMul": 3, "MatMulInteger": 1, "QGemm": 3}
QDQ_WEIGHTED = ("Conv", "Gemm", "MatMul")


@dataclass
class WeightCheck:
    node: str
    op: str
    worst: int  # the largest same-signed pair sum (positive or negative parts) among the kernel's pairs
    channels: int  # output channels with a pair over PAIR_LIMIT
    example: tuple[int, int] | None = None  # one offending pair

    @property
    def safe(self) -> bool:
        return self.worst <= PAIR_LIMIT


@dataclass
class SaturationCheck:
    """The verdict for one file: `safe` when no weight pair any x86 u8s8 kernel forms can overflow int16."""

    path: str
    weights: list[WeightCheck] = field(default_factory=list)  # int8 weight tensors of paired kernels
    unsigned: int = 0  # uint8 weight tensors (U8U8 kernels: never saturate)
    depthwise: int = 0  # int8 depthwise weights (widened to int32: never saturate)

    @property
    def safe(self) -> bool:
        return all(w.safe for w in self.weights)

    @property
    def unsafe(self) -> list[WeightCheck]:
        return [w for w in self.weights if not w.safe]

    def summary(self) -> str:
        """One sentence a ledger note can hold."""
        checked = f"{len(self.weights)} int8 weight tensor(s) checked"
        if self.safe:
            extra = [f"{n} {kind}" for n, kind in ((self.unsigned, "uint8"), (self.depthwise, "depthwise")) if n]
            worst = max((w.worst for w in self.weights), default=0)
            return (f"safe on x86 without VNNI: {checked}, largest same-signed weight pair {worst} <= {PAIR_LIMIT}"
                    + (f" ({', '.join(extra)} never saturate)" if extra else ""))
        bad = sorted(self.unsafe, key=lambda w: -w.worst)
        w = bad[0]
        pair = f" ({w.example[0]} and {w.example[1]})" if w.example else ""
        return (f"unsafe on x86 without VNNI: {len(bad)} of {checked} have weight pairs whose products with u8 "
                f"activations overflow int16; worst {w.node} ({w.op}): pair sum {w.worst}{pair} > {PAIR_LIMIT}")


def int8_saturation(path: str | Path) -> SaturationCheck:
    """Check every integer weight of an ONNX file (QDQ or QOperator format) against the int16 pair limit."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {t.name: t for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    out = SaturationCheck(str(path))
    for node in graph.node:
        found = _weight_of(node, inits, producer)
        if found is None:
            continue
        tensor, layout = found
        if tensor.data_type == onnx.TensorProto.UINT8:
            out.unsigned += 1
            continue
        if tensor.data_type != onnx.TensorProto.INT8:
            continue
        w = numpy_helper.to_array(tensor).astype(np.int32)
        attrs = {a.name: a.i for a in node.attribute}
        if layout == "conv" and w.ndim >= 3 and w.shape[1] == 1 and attrs.get("group", 1) > 1:
            out.depthwise += 1
            continue
        out.weights.append(_check(node.name or node.output[0], node.op_type, _rows(w, layout, attrs)))
    return out


def _weight_of(node, inits: dict, producer: dict):
    """(the integer weight initializer of `node`, its layout: 'conv' | 'kn' | 'nk'), or None."""
    attrs = {a.name: a.i for a in node.attribute}
    if node.op_type in QOPERATOR_WEIGHTS:
        i = QOPERATOR_WEIGHTS[node.op_type]
        if len(node.input) <= i or node.input[i] not in inits:
            return None
        layout = "conv" if "Conv" in node.op_type else ("nk" if attrs.get("transB") else "kn")
        return inits[node.input[i]], layout
    if node.op_type in QDQ_WEIGHTED and len(node.input) > 1:
        dq = producer.get(node.input[1])
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
            return None  # float weights, or weights computed at run time
        layout = "conv" if node.op_type == "Conv" else ("nk" if attrs.get("transB") else "kn")
        return inits[dq.input[0]], layout
    return None


def _rows(w: np.ndarray, layout: str, attrs: dict) -> np.ndarray:
    """One row per output channel, its weights in the order MLAS packs them along the reduction."""
    if layout == "conv":  # [M, C/group, *kernel] -> [M, kernel positions, C/group] -> [M, K]
        m, c = w.shape[:2]
        return w.reshape(m, c, -1).transpose(0, 2, 1).reshape(m, -1)
    if w.ndim != 2:  # a batched MatMul weight: each matrix's columns
        w = w.reshape(-1, *w.shape[-2:]).transpose(0, 2, 1).reshape(-1, w.shape[-2])
        return w
    return w if layout == "nk" else w.T


def _check(node: str, op: str, rows: np.ndarray) -> WeightCheck:
    if rows.shape[1] % 2:
        rows = np.pad(rows, ((0, 0), (0, 1)))
    pairs = rows.reshape(rows.shape[0], -1, 2)
    pos = np.clip(pairs, 0, None).sum(-1)
    neg = np.clip(-pairs, 0, None).sum(-1)
    worst_pair = np.maximum(pos, neg)
    per_channel = worst_pair.max(axis=1) if worst_pair.size else np.zeros(len(rows), dtype=np.int32)
    worst = int(per_channel.max()) if per_channel.size else 0
    example = None
    if worst > PAIR_LIMIT:
        ch, k = np.unravel_index(int(np.argmax(worst_pair)), worst_pair.shape)
        example = (int(pairs[ch, k, 0]), int(pairs[ch, k, 1]))
    return WeightCheck(node, op, worst, int((per_channel > PAIR_LIMIT).sum()), example)
