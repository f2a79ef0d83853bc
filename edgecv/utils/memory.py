"""How much memory is free, and whether a batch of images is likely to fit before anything is allocated."""
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
    """MemAvailable from /proc/meminfo (Linux), else the free physical pages; None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def batch_memory_bytes(batch: int, chw: Sequence[int], factor: float = ACTIVATION_FACTOR) -> int:
    """Estimated peak bytes to run `batch` float32 images of shape C x H x W: input bytes x `factor`."""
    c, h, w = (int(d) for d in chw)
    return int(batch) * c * h * w * 4 * int(factor)


def check_batch_memory(batches: Sequence[int], chw: Sequence[int], flag: str = "--batch",
                       available: int | None = None) -> None:
    """Raise a ValueError naming `flag` when the largest batch would not fit in the available memory
    (checked before anything is allocated). Does nothing where the available memory cannot be read."""
    free = available_memory_bytes() if available is None else available
    if free is None or not batches:
        return
    big = max(int(b) for b in batches)
    need = batch_memory_bytes(big, chw)
    if need > free:
        per_image = batch_memory_bytes(1, chw)
        fits = free // per_image
        advice = f"use {flag} {fits} or less" if fits >= 1 else "free some memory first"
        raise ValueError(
            f"{flag} {big}: a batch of {big} x {'x'.join(str(int(d)) for d in chw)} float32 images needs about "
            f"{_gib(need)} (input x {ACTIVATION_FACTOR} for activations) but only {_gib(free)} is available; {advice}")


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
