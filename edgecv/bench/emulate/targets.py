"""The emulated CPU classes: which QEMU `-cpu` model stands for which class of target, and what the
class's CPU must show a program (the features that change which quantized kernels run).

    target("arm64")       # the default arm64 class, arm64-a76
    target("arm64-a53")   # Cortex-A53-like: no dotprod
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmulatedTarget:
    name: str  # the class name users give: `--emulate arm64-a76`, `emulate: [arm64-a53]`
    arch: str  # the root it runs in (one per architecture, shared by its classes): "arm64"
    qemu_cpu: str  # QEMU's -cpu model
    summary: str
    features: tuple[str, ...]  # /proc/cpuinfo features the class must show (checked when the worker starts)
    absent: tuple[str, ...] = ()  # and must not show: the point of the class is their absence
    shown: tuple[str, ...] = ("asimddp", "i8mm", "sve2", "bf16")  # the features a row's `device` names
    none_shown: str = "no dotprod"  # what `device` says when it has none of them


# The classes named by the CPU targets (edgecv info, `--target`): the same arm64 and x86 names.
TARGETS = {t.name: t for t in (
    EmulatedTarget("arm64-a53", "arm64", "cortex-a53", "Cortex-A53-like, Armv8.0: NEON without dotprod "
                   "(Raspberry Pi 3, older phones)", ("asimd",), ("asimddp", "i8mm")),
    EmulatedTarget("arm64-a76", "arm64", "cortex-a76", "Cortex-A76-like, Armv8.2: NEON with dotprod (SDOT/UDOT; "
                   "Raspberry Pi 5, Jetson Orin's A78AE)", ("asimd", "asimddp"), ("i8mm",)),
    EmulatedTarget("arm64-i8mm", "arm64", "neoverse-n2", "Neoverse-N2-like, Armv9.0: dotprod, i8mm (SMMLA), "
                   "SVE2, BF16 (Graviton 3/4, recent phones)", ("asimd", "asimddp", "i8mm")),
    # Another x86-64 CPU on an x86-64 host, with this machine's own Python and runtimes: the CPUs without VNNI,
    # where ONNX Runtime's u8s8 kernels add pairs of products into a saturating int16.
    EmulatedTarget("x86-avx2", "x86_64", "Haswell-noTSX", "x86-64 with AVX2 and FMA, no AVX-512 and no VNNI "
                   "(Haswell-like; CPUID as numpy reads it)", ("avx2", "fma3"), ("avx512f", "avx512vnni"),
                   shown=("avx2", "avx512f", "avx512vnni"), none_shown="no avx2"),
)}
ALIASES = {"arm64": "arm64-a76"}  # the class most arm64 boards of today are
DEFAULT = "arm64"


def target(name: str) -> EmulatedTarget:
    """The class called `name` (or an alias); a clear error listing the classes otherwise."""
    key = ALIASES.get(name, name)
    if key not in TARGETS:
        raise ValueError(f"unknown emulated target '{name}': choose one of {', '.join(names())}")
    return TARGETS[key]


def names() -> list[str]:
    return [*ALIASES, *TARGETS]


def architectures() -> list[str]:
    return sorted({t.arch for t in TARGETS.values()})
