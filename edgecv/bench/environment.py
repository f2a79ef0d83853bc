"""Where a number was measured: CPU, cores, threads, GPU and driver, library versions, load."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import datetime, timezone

LIBRARIES = ("edgecv", "torch", "torchvision", "timm", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu",
             "onnxslim", "torch-pruning", "ai-edge-litert", "litert-torch", "tensorrt", "pycuda")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def gpu_info() -> dict | None:
    """Name, memory and driver of the first NVIDIA GPU, via nvidia-smi (no CUDA context is created)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None
    if not out:
        return None
    name, memory, driver = [p.strip() for p in out.splitlines()[0].split(",")][:3]
    return {"name": name, "memory": memory, "driver": driver, "count": len(out.splitlines())}


def fingerprint(threads: int | None = None) -> dict:
    from ..utils.versions import package_versions

    env = {
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_usable": usable_cores(),
        "threads": threads,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": gpu_info(),
        "libraries": package_versions(LIBRARIES),
    }
    try:
        import onnxruntime as ort

        env["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        pass
    return env
