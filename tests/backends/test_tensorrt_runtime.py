"""CUDA buffers for TensorRT engines: which library holds them (a pure decision, tested everywhere), and
real host <-> device copies through each library that works here (only with an NVIDIA GPU)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from edgecv.backends.tensorrt.runner import (DEVICES, ENV_BUFFERS, buffer_libraries, choose_buffers, gpu_identity,
                                              has_nvidia_gpu, make_device)

ALL = {"torch": True, "cuda-python": True, "pycuda": True}
GPU = has_nvidia_gpu()


def test_buffer_library_preference():
    assert choose_buffers(ALL) == "torch"  # a Jetson's NVIDIA torch wheel, or torch with CUDA on x86
    assert choose_buffers({**ALL, "torch": False}) == "cuda-python"
    assert choose_buffers({"torch": False, "cuda-python": False, "pycuda": True}) == "pycuda"
    with pytest.raises(ImportError, match="install PyTorch with CUDA .*cuda-python, or pycuda"):
        choose_buffers({"torch": False, "cuda-python": False, "pycuda": False})


def test_forcing_a_buffer_library():
    assert choose_buffers(ALL, prefer="pycuda") == "pycuda"
    with pytest.raises(ImportError, match=f"{ENV_BUFFERS}=torch, but torch sees no CUDA device here"):
        choose_buffers({**ALL, "torch": False}, prefer="torch")
    with pytest.raises(ImportError, match="pycuda is not installed here"):
        choose_buffers({**ALL, "pycuda": False}, prefer="pycuda")
    with pytest.raises(ValueError, match="use one of torch, cuda-python, pycuda"):
        choose_buffers(ALL, prefer="cupy")


def test_what_is_usable_here():
    import torch

    have = buffer_libraries()
    assert have["torch"] == torch.cuda.is_available()
    assert have["pycuda"] == (importlib.util.find_spec("pycuda") is not None)
    assert set(have) == set(DEVICES)


@pytest.mark.skipif(GPU, reason="checks the error on a machine without an NVIDIA GPU")
def test_no_gpu_gives_a_clear_error(monkeypatch):
    pytest.importorskip("cuda.bindings", reason="cuda-python is not installed")
    assert gpu_identity() is None
    monkeypatch.setenv(ENV_BUFFERS, "cuda-python")
    with pytest.raises(RuntimeError, match="CUDA error cuda\\w+ in cudaStreamCreate"):
        make_device()  # the CUDA runtime's own reason (no driver / no device), named


@pytest.mark.gpu
@pytest.mark.skipif(not GPU, reason="needs an NVIDIA GPU")
@pytest.mark.parametrize("library", list(DEVICES))
def test_host_device_round_trip(library):
    if not buffer_libraries()[library]:
        pytest.skip(f"{library} cannot hold CUDA buffers here")
    dev = make_device(library)
    x = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    buf = dev.alloc(x.nbytes)
    assert buf.ptr and buf.nbytes == x.nbytes and isinstance(dev.handle, int)
    dev.upload(buf, x)
    back = np.empty_like(x)
    dev.download(back, buf)
    dev.sync()
    np.testing.assert_array_equal(back, x)
    small = np.empty((2, 3, 32, 32), np.float32)  # a smaller batch reads the buffer's start
    dev.download(small, buf)
    dev.sync()
    np.testing.assert_array_equal(small, x[:2])
    dev.free(buf)
    ident = gpu_identity()
    assert ident and ident["name"] and ident["compute_capability"].count(".") == 1
