"""What every TensorRT engine records about where it was built, and the refusal to load it elsewhere.

A serialized engine runs only with the TensorRT release and on the GPU it was built for. The record
(the artifact metadata's `extra["tensorrt"]`) keeps the TensorRT version, the GPU name and compute
capability, the precision, the optimization profile and the source ONNX's sha256; `check_engine`
compares it with the loading machine and, on a difference, refuses with an error that names it.
Pure functions: no TensorRT needed.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Mapping

RECORD_KEY = "tensorrt"  # metadata.extra[RECORD_KEY] holds the record


class EngineMismatch(ValueError):
    """The engine was built for another TensorRT release or GPU than this machine has."""


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """'10.3.0.30' -> (10, 3, 0, 30); None where no version can be read."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text or ""))
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def decode_version_int(n: int) -> tuple[int, int, int]:
    """TensorRT's packed version (trtexec banners, calibration-cache headers) -> (major, minor, patch).

    TensorRT 10 and later pack major*10000 + minor*100 + patch (10.3.0 -> 100300); earlier releases
    major*1000 + minor*100 + patch (8.5.2 -> 8502)."""
    n = int(n)
    if n >= 10000:
        return n // 10000, n // 100 % 100, n % 100
    return n // 1000, n // 100 % 10, n % 100


def release(version: str | tuple | None) -> str | None:
    """The release an engine is tied to: major.minor.patch (a build number after it does not matter)."""
    parts = parse_version(version) if isinstance(version, str) else version
    return ".".join(str(p) for p in (tuple(parts) + (0, 0, 0))[:3]) if parts else None


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def engine_record(version: str, gpu: Mapping[str, Any] | None, precision: str, plan, profile,
                  onnx_sha256: str, builder: str, **extra: Any) -> dict[str, Any]:
    """The record stored with an engine. `plan` is a BuildPlan, `profile` a Profile (builder.py)."""
    gpu = gpu or {}
    return {
        "version": release(version), "version_full": str(version),
        "gpu": gpu.get("name"), "compute_capability": gpu.get("compute_capability"),
        "precision": precision, "int8_mode": plan.int8_mode, "strongly_typed": plan.strongly_typed,
        "dla_core": plan.dla_core, "builder_flags": list(plan.builder_flags),
        "profiles": [profile.record()], "onnx_sha256": onnx_sha256, "builder": builder,
        **{k: v for k, v in extra.items() if v is not None},
    }


def here_record(version: str | None, gpu: Mapping[str, Any] | None) -> dict[str, Any]:
    """This machine, in the record's terms."""
    gpu = gpu or {}
    return {"version": release(version), "gpu": gpu.get("name"), "compute_capability": gpu.get("compute_capability")}


def engine_mismatch(built: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """What differs between where the engine was built and here (unknown values are not compared)."""
    diffs = []
    for key, what in (("version", "TensorRT"), ("gpu", "GPU"), ("compute_capability", "compute capability")):
        a, b = built.get(key), here.get(key)
        if key == "version":
            a, b = release(a), release(b)
        if a is not None and b is not None and str(a) != str(b):
            diffs.append(f"{what}: built {a}, here {b}" if key != "gpu" else f"GPU: built '{a}', here '{b}'")
    return diffs


def _where(r: Mapping[str, Any]) -> str:
    gpu = r.get("gpu") or "an unknown GPU"
    cc = f" (compute capability {r['compute_capability']})" if r.get("compute_capability") else ""
    return f"TensorRT {release(r.get('version')) or '?'} on {gpu}{cc}"


def check_engine(path: str | Path, built: Mapping[str, Any], here: Mapping[str, Any]) -> None:
    """Refuse an engine built for another TensorRT release or GPU, spelling out the difference."""
    diffs = engine_mismatch(built, here)
    if not diffs:
        return
    onnx = f" (source ONNX sha256 {built['onnx_sha256'][:12]}...)" if built.get("onnx_sha256") else ""
    raise EngineMismatch(
        f"{path} was built for {_where(built)}; this machine has {_where(here)}: {'; '.join(diffs)}. "
        f"A TensorRT engine runs only with the release and GPU it was built for: rebuild it here from its "
        f"ONNX{onnx} (edgecv export ... --to tensorrt)")
