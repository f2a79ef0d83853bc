"""Which integer weights an ONNX Runtime INT8 build gets, decided by the CPU it is built for.

On x86 with AVX2/AVX-512 but no VNNI, ONNX Runtime's u8 x s8 kernels add pairs of products into a
saturating int16, so 8-bit weights can overflow there (edgecv.backends.onnx_saturation says exactly when).
A build for such a target gets 7-bit weights (`reduce_range`): they keep the fast u8 x s8 kernels and can
never overflow. Everywhere else (VNNI, AMX, ARM) 8-bit weights run exactly. Why 7-bit rather than uint8
weights (U8U8, which cannot saturate either): see the README's INT8 section and
benchmarks/ort_int8_schemes.py, which measures both.
"""
from __future__ import annotations

from ..targets import Target
from .spec import QuantizeSpec

NON_SATURATING = {"reduce_range": True}  # what a build for a saturating target gets when the spec leaves it open


def weights_for_target(spec: QuantizeSpec, target: Target) -> QuantizeSpec:
    """`spec` with `reduce_range` decided for `target`; a spec that forces 8-bit int8 weights onto a target
    whose kernels saturate is a ValueError (the build would be wrong there)."""
    if spec.precision != "int8":
        return spec
    if not target.int8_saturates:
        return spec.model_copy(update={"reduce_range": bool(spec.reduce_range)})
    if spec.weight_type == "int8" and spec.reduce_range is False:
        raise ValueError(f"reduce_range: false gives 8-bit int8 weights, which saturate int16 on target "
                         f"{target.describe()} (x86 without VNNI); leave reduce_range unset (7-bit weights) or set "
                         "weight_type: uint8, or build for a target with VNNI (--target x86-vnni)")
    if spec.weight_type == "int8" and spec.reduce_range is None:
        return spec.model_copy(update=NON_SATURATING)
    return spec.model_copy(update={"reduce_range": bool(spec.reduce_range)})


def scheme(spec: QuantizeSpec) -> str:
    """What the kernels multiply, e.g. 'u8 x s8, 7-bit weights (reduce_range)'."""
    act = "u8" if spec.activation_type == "uint8" else "s8"
    if spec.weight_type == "uint8":
        return f"{act} x u8 weights (U8U8)"
    return f"{act} x s8, {'7-bit weights (reduce_range)' if spec.reduce_range else '8-bit weights'}"
