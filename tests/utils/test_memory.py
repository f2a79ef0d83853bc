"""The batch-memory estimate refuses what cannot fit, before anything is allocated."""
import pytest

from edgecv.utils.memory import ACTIVATION_FACTOR, available_memory_bytes, batch_memory_bytes, check_batch_memory


def test_available_memory_is_read_from_the_machine():
    free = available_memory_bytes()
    assert free is None or free > 0
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(ln.split()[1]) for ln in f if ln.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        pytest.skip("no /proc/meminfo MemAvailable here")
    assert abs(free - kb * 1024) < 2**30  # the same reading, give or take what moved meanwhile


def test_estimate_and_refusal_name_the_flag():
    assert batch_memory_bytes(8, (3, 32, 32)) == 8 * 3 * 32 * 32 * 4 * ACTIVATION_FACTOR
    check_batch_memory([1, 8], (3, 32, 32), available=2**30)  # 1 GiB is plenty for 8 CIFAR images
    with pytest.raises(ValueError, match=r"--batch 10000000: .* needs about .* GiB .* only 1.0 GiB is available; use --batch \d+ or less"):
        check_batch_memory([1, 10**7], (3, 32, 32), available=2**30)
    per_image = batch_memory_bytes(1, (3, 224, 224))
    with pytest.raises(ValueError, match="free some memory first"):
        check_batch_memory([1], (3, 224, 224), available=per_image - 1)


def test_unknown_available_memory_never_refuses(monkeypatch):
    import edgecv.utils.memory as mem

    monkeypatch.setattr(mem, "available_memory", lambda: None)
    check_batch_memory([10**9], (3, 224, 224))  # nothing to compare with: no refusal, no crash
