"""trtexec: the command line equivalent to a build, and building through it where only trtexec exists
(JetPack installs without the Python bindings in the venv).

`trtexec_argv` (the flags for a BuildPlan), `parse_banner` and `parse_device` are pure; `build_with_trtexec`
runs it as a subprocess and turns a missing or failing trtexec into a clear error.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .metadata import decode_version_int, parse_version

ENV_TRTEXEC = "EDGECV_TRTEXEC"  # a trtexec to use instead of searching
LOCATIONS = ("/usr/src/tensorrt/bin/trtexec", "/usr/local/tensorrt/bin/trtexec", "/opt/tensorrt/bin/trtexec")
WHERE = f"${ENV_TRTEXEC}, PATH, {', '.join(LOCATIONS)}"


class TrtexecMissing(ImportError):
    """No trtexec to build with (an ImportError: the build is skipped, naming what to install)."""


def find_trtexec(env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which,
                 runnable: Callable[[str], bool] = lambda p: os.path.isfile(p) and os.access(p, os.X_OK)) -> str | None:
    """$EDGECV_TRTEXEC if set (and runnable), else trtexec on PATH, else JetPack's and the tarballs' places."""
    env = os.environ if env is None else env
    if env.get(ENV_TRTEXEC):
        return env[ENV_TRTEXEC] if runnable(env[ENV_TRTEXEC]) else None
    found = which("trtexec")
    if found:
        return found
    return next((p for p in LOCATIONS if runnable(p)), None)


@dataclass(frozen=True)
class TrtexecFlags:
    """The trtexec flags a build adds beyond what its plan and profile say."""
    workspace_mb: int | None = None  # --memPoolSize=workspace:NM
    timing_cache: str | Path | None = None  # --timingCacheFile
    calibration_cache: str | Path | None = None  # --calib (implicit INT8 needs one: trtexec cannot calibrate)
    build_only: bool = True  # --skipInference


def trtexec_argv(trtexec: str, onnx: str | Path, engine: str | Path, plan, profile, flags: TrtexecFlags | None = None,
                 **fields) -> list[str]:
    """The trtexec arguments that build what `plan` (a BuildPlan) and `profile` describe, with `flags`
    (or their fields as keywords)."""
    from ...utils.options import with_fields

    f = with_fields(TrtexecFlags, flags, fields, "trtexec_argv")
    workspace_mb, timing_cache, calibration_cache = f.workspace_mb, f.timing_cache, f.calibration_cache
    def dims(shape: Sequence[int]) -> str:
        return "x".join(str(d) for d in shape)

    argv = [str(trtexec), f"--onnx={onnx}", f"--saveEngine={engine}",
            f"--minShapes={profile.input}:{dims(profile.min)}", f"--optShapes={profile.input}:{dims(profile.opt)}",
            f"--maxShapes={profile.input}:{dims(profile.max)}"]
    if "STRONGLY_TYPED" in plan.network_flags:
        argv.append("--stronglyTyped")  # TensorRT 10; 11 is always strongly typed
    argv += [{"FP16": "--fp16", "INT8": "--int8"}[f] for f in plan.builder_flags if f in ("FP16", "INT8")]
    if "TF32" in plan.clear_flags:
        argv.append("--noTF32")
    if plan.calibrate:
        if calibration_cache is None:
            raise ValueError("trtexec cannot calibrate (its --int8 without a cache uses placeholder scales): give a "
                             "calibration cache made by this TensorRT release (option calibration_cache), or a Q/DQ "
                             "ONNX (int8_mode qdq)")
        argv.append(f"--calib={calibration_cache}")
    if workspace_mb:
        argv.append(f"--memPoolSize=workspace:{int(workspace_mb)}M")
    if timing_cache is not None:
        argv.append(f"--timingCacheFile={timing_cache}")
    if plan.dla_core is not None:
        argv.append(f"--useDLACore={plan.dla_core}")
        if "GPU_FALLBACK" in plan.builder_flags:
            argv.append("--allowGPUFallback")
    if f.build_only:
        argv.append("--skipInference")
    return argv


def command_line(argv: Sequence[str]) -> str:
    return shlex.join([str(a) for a in argv])


def parse_banner(text: str) -> tuple[int, ...] | None:
    """TensorRT's version from trtexec's banner: '[TensorRT v100300]' -> (10, 3, 0) (also 'v10.3.0')."""
    m = re.search(r"TensorRT\s+v(\d+\.\d+(?:\.\d+)*)", text)
    if m:
        return parse_version(m.group(1))
    m = re.search(r"TensorRT\s+v(\d{4,8})\b", text)
    return decode_version_int(int(m.group(1))) if m else None


def parse_device(text: str) -> dict[str, str | None] | None:
    """The GPU from trtexec's '=== Device Information ===' lines (Selected Device, Compute Capability)."""
    name = re.search(r"Selected Device:\s*(.+?)\s*$", text, re.M)
    cc = re.search(r"Compute Capability:\s*(\d+\.\d+)", text)
    if not name:
        return None
    return {"name": name.group(1), "compute_capability": cc.group(1) if cc else None}


def _tail(log: str, n: int = 4) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "[E]" in line or "Error" in line or "FAILED" in line]
    return " | ".join((errors or lines)[-n:]) or "no output"


def _run(argv: Sequence[str], timeout: float | None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise TrtexecMissing(f"trtexec not found at {argv[0]}: install TensorRT (JetPack ships trtexec in "
                             f"/usr/src/tensorrt/bin) or pip install 'edgecv[tensorrt]'") from None
    except PermissionError:
        raise TrtexecMissing(f"{argv[0]} is not executable") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"trtexec did not finish within {timeout:.0f} s: {command_line(argv)}") from None


def trtexec_version(trtexec: str) -> tuple[int, ...]:
    """The TensorRT release of a trtexec, from the banner of `trtexec --version`."""
    res = _run([trtexec, "--version"], 120)
    version = parse_banner(res.stdout + res.stderr)
    if version is None:
        raise RuntimeError(f"could not read the TensorRT version from `{trtexec} --version`: {_tail(res.stdout + res.stderr)}")
    return version


def build_with_trtexec(argv: Sequence[str], engine: Path, timeout: float | None = None) -> str:
    """Run a trtexec build; its log. A failed run (or no engine written) raises with trtexec's errors."""
    res = _run(argv, timeout)
    log = res.stdout + res.stderr
    if res.returncode != 0:
        raise RuntimeError(f"trtexec failed (exit {res.returncode}): {_tail(log)}")
    if not engine.is_file() or engine.stat().st_size == 0:
        raise RuntimeError(f"trtexec exited 0 but wrote no engine to {engine}: {_tail(log)}")
    return log
