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


# nvidia-smi --query-gpu fields -> fingerprint keys. The clocks say what a GPU number was measured at: the
# SM and memory clocks at that moment (an idle GPU reads low), the SM maximum, the power limit, persistence.
GPU_FIELDS = {"name": "name", "memory.total": "memory", "driver_version": "driver", "clocks.sm": "clocks_sm_mhz",
              "clocks.mem": "clocks_mem_mhz", "clocks.max.sm": "clocks_max_sm_mhz", "power.limit": "power_limit_w",
              "persistence_mode": "persistence_mode", "compute_cap": "compute_cap"}
BASIC_GPU_FIELDS = ("name", "memory.total", "driver_version")  # what every nvidia-smi answers


def gpu_info() -> dict | None:
    """The first NVIDIA GPU, via nvidia-smi (no CUDA context is created): name, memory, driver, clocks
    (MHz), power limit (W), persistence mode, compute capability and the GPU count. An nvidia-smi too old
    for a field refuses the whole query: then only name, memory and driver are asked for."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    for fields in (tuple(GPU_FIELDS), BASIC_GPU_FIELDS):
        try:
            out = subprocess.run([smi, f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
        except (subprocess.SubprocessError, OSError):
            continue
        gpus = parse_gpu_csv(out, fields)
        if gpus:
            return {**gpus[0], "count": len(gpus)}
    return None


def parse_gpu_csv(text: str, fields=tuple(GPU_FIELDS)) -> list[dict]:
    """Rows of `nvidia-smi --query-gpu=FIELDS --format=csv,noheader`, one dict per GPU keyed as in
    GPU_FIELDS. Name, memory and driver stay as printed; clocks become int MHz, the power limit float W,
    persistence True/False; '[N/A]', '[Not Supported]' and unreadable values None. A line whose value
    count is not the field count (an error message, a name with a comma) makes the whole answer []."""
    gpus = []
    for line in (ln for ln in text.splitlines() if ln.strip()):
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(fields):
            return []
        gpus.append({GPU_FIELDS.get(f, f): _smi_value(f, v) for f, v in zip(fields, values)})
    return gpus


def _smi_value(field: str, value: str):
    if not value or (value.startswith("[") and value.endswith("]")) or value.upper() == "N/A":
        return None
    try:
        if field.startswith("clocks."):
            return int(float(value.split()[0]))  # "1980 MHz"
        if field == "power.limit":
            return float(value.split()[0])  # "700.00 W"
    except ValueError:
        return None
    if field == "persistence_mode":
        return {"enabled": True, "disabled": False}.get(value.lower())
    return value


def fingerprint(threads: int | None = None) -> dict:
    from ..targets import host_target
    from ..utils.versions import package_versions
    from .jetson import jetson_info

    cpu = host_target()
    env = {
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_arch": cpu.arch,
        "cpu_features": list(cpu.features),  # the ones that decide quantized kernels (edgecv.targets)
        "cpu_count": os.cpu_count(),
        "cores_usable": usable_cores(),
        "threads": threads,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": gpu_info(),
        "jetson": jetson_info(),  # board, L4T/JetPack, TensorRT, power mode, jetson_clocks; None elsewhere
        "libraries": package_versions(LIBRARIES),
    }
    try:
        import onnxruntime as ort

        env["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        pass
    return env
