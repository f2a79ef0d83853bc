"""How much memory is free (the machine's, a container's cap, ulimit -v), and whether a batch of images
is likely to fit before anything is allocated."""
from __future__ import annotations

from typing import Sequence

# Bytes needed per input byte when a batch is run. The float32 input itself is held about twice (the
# numpy batch and the runtime's own copy or layout-converted view); a CNN's early activations are
# several times the input (a 16-64-channel stem at full or half resolution is ~1.3-5x a 3-channel
# input), and a runtime keeps a few of them alive at once plus its arena slack. 16x covers ResNets,
# MobileNets and SqueezeNets at 32-224 px with room to spare; a batch over that is refused up front
# instead of the kernel's OOM killer ending the process with a bare "Killed".
ACTIVATION_FACTOR = 16


def available_memory_bytes() -> int | None:
    """What this process can still allocate: the least of the machine's available memory, what its
    cgroup (a container's memory cap) has left, and what its address-space limit (ulimit -v) has
    left. None where none of them can be read."""
    found = available_memory()
    return found[0] if found else None


def available_memory() -> tuple[int, str] | None:
    """(bytes, what limits them) for `available_memory_bytes`, e.g. (6.2 GiB, 'the cgroup limit of 8.0 GiB')."""
    candidates = [c for c in (_machine_available(), _cgroup_available(), _address_space_available()) if c]
    return min(candidates, key=lambda c: c[0]) if candidates else None


def _machine_available() -> tuple[int, str] | None:
    """MemAvailable from /proc/meminfo (Linux), else the free physical pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "the machine's available memory"  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE")), "the machine's free memory"
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_available(proc_cgroup: str = "/proc/self/cgroup", sysfs: str = "/sys/fs/cgroup") -> tuple[int, str] | None:
    """The memory cap of this process's cgroup (v2 memory.max, else v1 memory.limit_in_bytes) minus its use."""
    from pathlib import Path

    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            base = Path(sysfs) / rel.lstrip("/")
            limit, used = _read_int(base / "memory.max"), _read_int(base / "memory.current")
        elif "memory" in controllers.split(","):  # v1
            base = Path(sysfs) / "memory" / rel.lstrip("/")
            if not base.is_dir():  # inside a container the hierarchy's root is the container's own
                base = Path(sysfs) / "memory"
            limit, used = _read_int(base / "memory.limit_in_bytes"), _read_int(base / "memory.usage_in_bytes")
        else:
            continue
        if limit and used is not None and limit < 2**60:  # 'max' or a huge number: no cap
            return max(0, limit - used), f"the cgroup memory limit of {_gib(limit)}"
    return None


def _address_space_available() -> tuple[int, str] | None:
    """RLIMIT_AS (ulimit -v) minus this process's virtual size."""
    try:
        import resource
    except ImportError:
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        vm = 0
    return max(0, limit - vm), f"the address-space limit (ulimit -v) of {_gib(limit)}"


def _read_int(path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def batch_memory_bytes(batch: int, chw: Sequence[int], factor: float = ACTIVATION_FACTOR) -> int:
    """Estimated peak bytes to run `batch` float32 images of shape C x H x W: input bytes x `factor`."""
    c, h, w = (int(d) for d in chw)
    return int(batch) * c * h * w * 4 * int(factor)


def check_batch_memory(batches: Sequence[int], chw: Sequence[int], flag: str = "--batch",
                       available: int | None = None, per_image: int | None = None,
                       how: str = f"input x {ACTIVATION_FACTOR} for activations") -> None:
    """Raise a ValueError naming `flag` when the largest batch would not fit in the available memory
    (checked before anything is allocated). `per_image`: bytes one image needs (e.g. from the model's
    activations, `how` says where the figure comes from); default: the input x ACTIVATION_FACTOR.
    Does nothing where the available memory cannot be read."""
    if available is None:
        found = available_memory()
        free, limited_by = found if found else (None, "")
    else:
        free, limited_by = available, ""
    if free is None or not batches:
        return
    big = max(int(b) for b in batches)
    per_image = per_image or batch_memory_bytes(1, chw)
    need = big * per_image
    if need > free:
        fits = free // per_image
        advice = f"use {flag} {fits} or less" if fits >= 1 else "free some memory first"
        limit = f" ({limited_by})" if limited_by else ""
        raise ValueError(
            f"{flag} {big}: a batch of {big} x {'x'.join(str(int(d)) for d in chw)} float32 images needs about "
            f"{_gib(need)} ({_mib(per_image)} per image: {how}) but only {_gib(free)} is available{limit}; {advice}")


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n < 100 * 2**20 else f"{n / 2**20:,.0f} MiB"


def release_freed_memory() -> None:
    """Hand memory freed by large allocations back to the OS (glibc's malloc_trim; a no-op elsewhere).
    glibc keeps what a worker thread freed in that thread's arena: after a 300 MB image was decoded on a
    thread pool, the process would otherwise hold the 300 MB until that thread happened to reuse them."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
