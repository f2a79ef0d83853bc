"""Deployment targets: the CPU features that decide which quantized kernels run, and named targets.

The same INT8 file runs different integer kernels on different CPUs, and not all of them compute the
same result: on x86 with AVX2 (or AVX-512) but without VNNI, ONNX Runtime's u8 x s8 kernels add pairs of
products into a saturating int16 (VPMADDUBSW), so a file built with 8-bit weights for a VNNI machine can
lose accuracy there. A build therefore takes a target (the host by default, or a named one), records it
in the artifact's metadata, and the benchmark compares it with the CPU it runs on.

    host_target()                  # Target(name='host', arch='x86_64', features=('avx2', 'avx512f', ...))
    resolve_target("x86-avx2")     # a named target; an unknown name is a ValueError with a did-you-mean
    resolve_target(None).int8_saturates
"""
from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from typing import Any, Mapping

X86 = "x86_64"
ARM64 = "arm64"
HOST = "host"

# The features that decide which quantized (and half-precision) kernels a runtime picks, per architecture.
KERNEL_FEATURES: dict[str, dict[str, str]] = {
    X86: {
        "avx2": "256-bit integer SIMD: u8 x s8 pairs summed into a saturating int16 (VPMADDUBSW)",
        "avx512f": "512-bit SIMD",
        "avx512_vnni": "int8 dot products into int32 (VPDPBUSD), no saturation",
        "avx_vnni": "the same int8 dot products on 256-bit registers (Alder Lake and later)",
        "amx_int8": "int8 tile matrix multiply (Sapphire Rapids and later)",
        "avx512_bf16": "bfloat16 dot products",
    },
    ARM64: {
        "asimddp": "int8 dot products (SDOT/UDOT)",
        "i8mm": "int8 matrix multiply (SMMLA/UMMLA)",
        "sve": "scalable vectors",
        "fp16": "half-precision arithmetic",
    },
}
VNNI_FEATURES = ("avx512_vnni", "avx_vnni", "amx_int8")  # any one: int8 products accumulate in int32
_SATURATING_SIMD = ("avx2", "avx512f")  # without VNNI, MLAS's u8s8 kernels on these use VPMADDUBSW
# Linux /proc/cpuinfo spells arm64's half precision as these (arithmetic on scalars / vectors)
_LINUX_ALIASES = {"fphp": "fp16", "asimdhp": "fp16"}
# numpy's CPU dispatch names, for systems without /proc/cpuinfo (it knows fewer of the features)
_NUMPY_NAMES = {"AVX2": "avx2", "AVX512F": "avx512f", "AVX512VNNI": "avx512_vnni", "AVX512BF16": "avx512_bf16",
                "ASIMDDP": "asimddp", "ASIMDHP": "fp16", "SVE": "sve"}


@dataclass(frozen=True)
class Target:
    """Where an artifact is meant to run: a name, a CPU architecture and its kernel-deciding features."""

    name: str
    arch: str
    features: tuple[str, ...] = ()
    summary: str = ""

    @property
    def vnni(self) -> bool:
        """x86 whose int8 products accumulate in int32 (VNNI or AMX)."""
        return self.arch == X86 and any(f in self.features for f in VNNI_FEATURES)

    @property
    def int8_saturates(self) -> bool:
        """ONNX Runtime's u8 x s8 kernels here add pairs of products into a saturating int16: x86 with
        AVX2/AVX-512 and no VNNI. (SSE-only x86 widens to int16 first; ARM and VNNI accumulate in int32.)"""
        return self.arch == X86 and not self.vnni and any(f in self.features for f in _SATURATING_SIMD)

    def compact(self) -> str:
        """'x86_64 avx2,avx512f,avx512_vnni' (the arch alone when it has none of the features)."""
        return f"{self.arch} {','.join(self.features)}" if self.features else self.arch

    def describe(self) -> str:
        """'x86-avx2 (x86_64 avx2)': the name and what it stands for."""
        return f"{self.name} ({self.compact()})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arch": self.arch, "features": list(self.features)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Target":
        return cls(str(d.get("name") or "?"), str(d.get("arch") or "?"), tuple(d.get("features") or ()))


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("x86-vnni", X86, ("avx2", "avx512f", "avx512_vnni"),
           "x86 with VNNI (Intel Cascade Lake and later, AMD Zen 4 and later): 8-bit weights run exactly"),
    Target("x86-avx2", X86, ("avx2",),
           "x86 with AVX2 but no VNNI (Intel Haswell to Skylake, AMD Zen 1-3): u8 x s8 products saturate int16"),
    Target("arm64-a53", ARM64, (), "Cortex-A53-like ARMv8.0, no dot product (Raspberry Pi 3, many boards)"),
    Target("arm64-a76", ARM64, ("asimddp", "fp16"), "Cortex-A76-like ARMv8.2 with int8 dot product (Raspberry Pi 5)"),
    Target("arm64-i8mm", ARM64, ("asimddp", "fp16", "i8mm"),
           "ARMv8.6 with int8 matrix multiply (Cortex-A710/X2, Neoverse N2/V1, Apple M2 and later)"),
    Target("jetson", ARM64, ("asimddp", "fp16"), "NVIDIA Jetson Orin: Cortex-A78AE CPU and a CUDA GPU (TensorRT)"),
)}
TARGET_NAMES = (HOST, *TARGETS)


def normalise_arch(machine: str) -> str:
    m = machine.lower()
    return {"amd64": X86, "x64": X86, "aarch64": ARM64, "arm64": ARM64}.get(m, m)


def parse_cpuinfo(text: str, arch: str) -> tuple[str, ...]:
    """The kernel-deciding features named in Linux /proc/cpuinfo text ('flags' on x86, 'Features' on arm64)."""
    found: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            found |= {_LINUX_ALIASES.get(w, w) for w in value.split()}
    return tuple(f for f in KERNEL_FEATURES.get(arch, {}) if f in found)


def cpu_features(arch: str | None = None) -> tuple[str, ...]:
    """This machine's kernel-deciding features, in KERNEL_FEATURES order (Linux: /proc/cpuinfo; else
    numpy's CPU dispatch table, which does not know avx_vnni, amx_int8 or i8mm)."""
    arch = arch or normalise_arch(platform.machine())
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return parse_cpuinfo(f.read(), arch)
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as have  # numpy >= 2
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as have  # numpy 1.x
        except ImportError:
            return ()
    found = {ours for theirs, ours in _NUMPY_NAMES.items() if have.get(theirs)}
    return tuple(f for f in KERNEL_FEATURES.get(arch, {}) if f in found)


HOST_AS = "EDGECV_HOST_AS"  # a named target whose features stand in for this machine's (see host_target)


@functools.lru_cache(maxsize=1)
def host_target() -> Target:
    """The machine this process runs on, as a target named 'host'.

    With $EDGECV_HOST_AS=NAME (a named target) this machine is taken for that CPU class: builds for `host` and
    the benchmark's judgement follow it. For checking on one machine what another class builds and accepts,
    e.g. EDGECV_HOST_AS=x86-avx2 on a VNNI machine: 7-bit builds compute the same integers on both, so their
    measured accuracy is the other class's too. The kernels that run are still this CPU's."""
    stand_in = os.environ.get(HOST_AS)
    if stand_in:
        t = TARGETS[check_target_name(stand_in)]
        return Target(HOST, t.arch, t.features, f"this machine taken as {t.name} (${HOST_AS})")
    arch = normalise_arch(platform.machine())
    return Target(HOST, arch, cpu_features(arch), "this machine")


def resolve_target(name: str | Target | None) -> Target:
    """A Target from a name ('host' or None: this machine); an unknown name is a one-line ValueError."""
    if isinstance(name, Target):
        return name
    if name is None or name == HOST:
        return host_target()
    return TARGETS[check_target_name(name)]


def check_target_name(name: str) -> str:
    """`name` if it names a target, else a ValueError listing them, with a did-you-mean."""
    if name in TARGET_NAMES:
        return name
    from .registry import did_you_mean

    raise ValueError(f"unknown target '{name}'{did_you_mean(name, TARGET_NAMES)}; targets: {', '.join(TARGET_NAMES)}")


def recorded_target(entry: Mapping[str, Any] | None) -> Target | None:
    """The target an artifact's metadata records (None for files built before targets, or by other tools)."""
    return Target.from_dict(entry) if entry else None
