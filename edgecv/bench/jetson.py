"""What a Jetson says about itself, read defensively: board model, L4T/JetPack, TensorRT, power mode,
jetson_clocks, and the power rails `tegrastats` prints.

    jetson_info()                      # None on anything that is not a Jetson
    parse_tegrastats(line)             # {"VDD_IN": (4787, 4787), ...}  current/average mW per rail
    total_power(rails)                 # ("VDD_IN", 4787): the rail that measures the whole module

Every reader returns None where its source is absent or unreadable (no root for `jetson_clocks --show`,
no `nvpmodel`, an L4T without the `nvidia-jetpack` package): a fingerprint never fails for a missing fact.
The parsers take the documented outputs of JetPack 4, 5 and 6 (see tests/bench/test_remote_jetson.py).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
TEGRA_RELEASE = Path("/etc/nv_tegra_release")

# A rail: NAME current/average, in mW. JetPack 5/6 print the unit ("VDD_IN 4787mW/4787mW"), JetPack 4
# does not ("POM_5V_IN 2559/2559"); some builds print only the current value ("VDD_IN 5765mW"). Memory
# fields ("RAM 2359/3956MB") end in another unit and plain counters ("APE 25") have neither: not rails.
_RAIL = re.compile(r"(?<![\w@])([A-Z][A-Z0-9_]*) (\d+)(mW)?(?:/(\d+)(?:mW)?)?(?=\s|$)")
# The rail that measures the whole module, by board: Orin Nano/NX, Xavier NX and TX2 (VDD_IN), Nano
# (POM_5V_IN), Thor (VIN). AGX Orin has no input rail: its module is the sum of the three below.
TOTAL_RAILS = ("VDD_IN", "POM_5V_IN", "VIN")
MODULE_SUMS = (("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"),)


def parse_tegrastats(line: str) -> dict[str, tuple[int, int | None]]:
    """{rail: (current mW, average mW or None)} from one tegrastats line ({} when it has no power rails).
    The average is tegrastats' own running mean since it started; callers average the current values."""
    return {m.group(1): (int(m.group(2)), int(m.group(4)) if m.group(4) else None)
            for m in _RAIL.finditer(line) if m.group(3) or m.group(4)}


def total_power(rails: Mapping[str, float]) -> tuple[str, float] | None:
    """(what was measured, mW) for the whole module from {rail: mW}: its input rail where the board has
    one, else the known module sum, else the sum of every rail printed (named as such)."""
    for name in TOTAL_RAILS:
        if name in rails:
            return name, rails[name]
    for group in MODULE_SUMS:
        if all(r in rails for r in group):
            return "+".join(group), sum(rails[r] for r in group)
    if rails:
        return "+".join(rails), sum(rails.values())
    return None


def parse_l4t_release(text: str) -> str | None:
    """'32.7.1' from /etc/nv_tegra_release ('# R32 (release), REVISION: 7.1, GCID: ...')."""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def parse_package_version(text: str) -> str | None:
    """'6.0' from a Debian version such as '6.0+b106' or '4.6.1-b110', '8.5.2.2' from '8.5.2.2-1+cuda11.4'."""
    m = re.match(r"\s*(?:\d+:)?(\d+(?:\.\d+)*)", text or "")
    return m.group(1) if m else None


def parse_nvpmodel(text: str) -> dict | None:
    """{"name": "MAXN", "id": 0} from `nvpmodel -q` (the mode's id is the number on the line after it)."""
    lines = [ln.strip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        m = re.search(r"NV Power Mode:\s*(.+?)\s*$", line)
        if m:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            return {"name": m.group(1), "id": int(nxt) if nxt.isdigit() else None}
    return None


def parse_jetson_clocks(text: str) -> dict | None:
    """From `jetson_clocks --show`: whether the clocks are pinned at their maximum (`locked`: every online
    CPU and the GPU have MinFreq == MaxFreq, which is what running `jetson_clocks` does), the power mode,
    and the GPU/EMC frequencies in MHz. None when the output has no clock lines (no root, say)."""
    cpus = re.findall(r"^cpu\d+:.*?MinFreq=(\d+)\s+MaxFreq=(\d+)", text, re.M)
    gpu = re.search(r"^GPU\s+MinFreq=(\d+)\s+MaxFreq=(\d+)\s+CurrentFreq=(\d+)", text, re.M)
    emc = re.search(r"^EMC\s+MinFreq=(\d+)\s+MaxFreq=(\d+)\s+CurrentFreq=(\d+)", text, re.M)
    if not cpus and not gpu:
        return None
    pinned = [lo == hi for lo, hi in cpus] + ([gpu.group(1) == gpu.group(2)] if gpu else [])
    mode = re.search(r"^NV Power Mode:\s*(.+?)\s*$", text, re.M)
    return {
        "locked": all(pinned),
        "power_mode": mode.group(1) if mode else None,
        "gpu_mhz": round(int(gpu.group(3)) / 1e6) if gpu else None,  # Hz
        "emc_mhz": round(int(emc.group(3)) / 1e6) if emc else None,
    }


def is_jetson() -> bool:
    return TEGRA_RELEASE.is_file() or "jetson" in (_read(DEVICE_TREE_MODEL) or "").lower()


def jetson_info() -> dict | None:
    """The board, L4T, JetPack, TensorRT, power mode and jetson_clocks state; None when not on a Jetson.
    Each value is None when its source is absent or refuses (e.g. `jetson_clocks --show` without root)."""
    if not is_jetson():
        return None
    model = _read(DEVICE_TREE_MODEL)
    release = _read(TEGRA_RELEASE)
    jetpack = _run(["dpkg-query", "-W", "-f=${Version}", "nvidia-jetpack"])
    nvp = _run(["nvpmodel", "-q"])
    clocks = _run(["jetson_clocks", "--show"])  # --show only reads; without it jetson_clocks changes the clocks
    return {
        "model": model.strip("\x00 \n") if model else None,
        "l4t": parse_l4t_release(release) if release else None,
        "jetpack": parse_package_version(jetpack) if jetpack else None,
        "tensorrt": tensorrt_version(),
        "power_mode": parse_nvpmodel(nvp) if nvp else None,
        "jetson_clocks": parse_jetson_clocks(clocks) if clocks else None,
    }


def tensorrt_version() -> str | None:
    """TensorRT's version from its Python package, else from the Debian packages JetPack installs."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_libs"):
        try:
            return version(dist)
        except PackageNotFoundError:
            pass
    out = _run(["dpkg-query", "-W", "-f=${Package} ${Version}\n", "tensorrt", "libnvinfer-bin"], any_rc=True)
    for line in (out or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parse_package_version(parts[1]):
            return parse_package_version(parts[1])
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _run(cmd: Sequence[str], timeout: float = 5.0, any_rc: bool = False) -> str | None:
    """stdout of a read-only query, or None (not installed, refused, timed out)."""
    exe = shutil.which(cmd[0]) or next((p for p in (f"/usr/sbin/{cmd[0]}", f"/usr/bin/{cmd[0]}") if Path(p).is_file()), None)
    if exe is None:
        return None
    try:
        res = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError):
        return None
    if res.returncode != 0 and not any_rc:
        return None
    return res.stdout or None
