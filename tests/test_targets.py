"""Targets: CPU features read from /proc/cpuinfo, named targets, and which of them saturate INT8."""
from __future__ import annotations

import pytest

from edgecv.targets import (HOST, TARGET_NAMES, TARGETS, Target, check_target_name, host_target, parse_cpuinfo,
                            resolve_target)

EPYC_ZEN4 = """processor	: 0
vendor_id	: AuthenticAMD
flags		: fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512_bf16 avx512vbmi avx512_vnni avx512_bitalg
"""
EPYC_ZEN2 = "flags		: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma sha_ni\n"
SAPPHIRE_RAPIDS = "flags : avx2 avx512f avx512_vnni avx_vnni amx_bf16 amx_tile amx_int8 avx512_bf16\n"
PI5 = "processor	: 0\nFeatures	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
PI3 = "Features	: fp asimd evtstrm crc32 cpuid\n"
NEOVERSE_V1 = "Features	: fp asimd fphp asimdhp asimddp sve i8mm bf16 svei8mm\n"


@pytest.mark.parametrize("text, arch, features", [
    (EPYC_ZEN4, "x86_64", ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")),
    (EPYC_ZEN2, "x86_64", ("avx2",)),
    (SAPPHIRE_RAPIDS, "x86_64", ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16")),
    (PI5, "arm64", ("asimddp", "fp16")),  # Linux spells half precision fphp/asimdhp
    (PI3, "arm64", ()),
    (NEOVERSE_V1, "arm64", ("asimddp", "i8mm", "sve", "fp16")),
])
def test_cpuinfo_features(text, arch, features):
    assert parse_cpuinfo(text, arch) == features


@pytest.mark.parametrize("features, saturates", [
    (("avx2",), True),  # Zen 2/3, Haswell..Skylake client: VPMADDUBSW saturates int16
    (("avx2", "avx512f"), True),  # Skylake-SP: AVX-512 without VNNI saturates too
    (("avx2", "avx512f", "avx512_vnni"), False),
    (("avx2", "avx_vnni"), False),
    (("avx2", "avx512f", "amx_int8"), False),
    ((), False),  # SSE-only x86 widens to int16 first
])
def test_which_x86_saturates(features, saturates):
    assert Target("t", "x86_64", features).int8_saturates is saturates


def test_named_targets():
    assert TARGET_NAMES[0] == HOST and set(TARGETS) == {"x86-vnni", "x86-avx2", "arm64-a53", "arm64-a76", "arm64-i8mm", "jetson"}
    assert TARGETS["x86-avx2"].int8_saturates and not TARGETS["x86-vnni"].int8_saturates and TARGETS["x86-vnni"].vnni
    assert not any(t.int8_saturates for name, t in TARGETS.items() if name.startswith("arm64") or name == "jetson")
    assert "asimddp" not in TARGETS["arm64-a53"].features and "asimddp" in TARGETS["arm64-a76"].features
    assert "i8mm" in TARGETS["arm64-i8mm"].features
    assert TARGETS["x86-avx2"].compact() == "x86_64 avx2" and TARGETS["x86-avx2"].describe() == "x86-avx2 (x86_64 avx2)"


def test_resolve_and_round_trip():
    assert resolve_target(None) is host_target() and resolve_target("host") is host_target()
    t = resolve_target("arm64-i8mm")
    assert Target.from_dict(t.to_dict()) == Target(t.name, t.arch, t.features)  # the summary is not stored
    with pytest.raises(ValueError, match=r"unknown target 'x86-avx' \(did you mean 'x86-avx2'\?\); targets: host, "):
        check_target_name("x86-avx")


def test_this_cpu_is_read():
    """The host's features come from this machine (any CPU: only their names are asserted)."""
    import platform

    host = host_target()
    assert host.name == "host" and isinstance(host.features, tuple)
    assert host.arch == {"amd64": "x86_64", "aarch64": "arm64"}.get(platform.machine().lower(), platform.machine().lower())
    assert all(f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "asimddp", "i8mm", "sve",
                     "fp16") for f in host.features)


def test_this_machine_can_be_taken_for_another_class(monkeypatch):
    """$EDGECV_HOST_AS: host builds and judgements as that CPU class would make them (for tests and benchmarks)."""
    monkeypatch.setenv("EDGECV_HOST_AS", "x86-avx2")
    host_target.cache_clear()
    try:
        host = host_target()
        assert host.name == "host" and host.features == ("avx2",) and host.int8_saturates
        monkeypatch.setenv("EDGECV_HOST_AS", "x86-avx")
        host_target.cache_clear()
        with pytest.raises(ValueError, match="did you mean 'x86-avx2'"):
            host_target()
    finally:
        monkeypatch.delenv("EDGECV_HOST_AS")
        host_target.cache_clear()
