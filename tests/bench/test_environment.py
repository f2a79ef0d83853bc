from edgecv.bench.environment import fingerprint


def test_fingerprint_names_the_machine_and_libraries():
    env = fingerprint(threads=2)
    assert env["cpu"] and env["cores_usable"] >= 1 and env["threads"] == 2
    assert {"torch", "numpy", "onnxruntime"} <= set(env["libraries"])
    import shutil

    if shutil.which("nvidia-smi") is None:
        assert env["gpu"] is None  # no NVIDIA tools: no GPU claimed
    else:
        assert env["gpu"] is None or (env["gpu"]["name"] and env["gpu"]["count"] >= 1)


def test_gpu_info_reads_nvidia_smi(tmp_path, monkeypatch):
    """A stand-in nvidia-smi on PATH: its CSV becomes name, memory, driver and the GPU count."""
    from edgecv.bench.environment import gpu_info

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 143771 MiB, 550.54.15'\necho 'NVIDIA H200, 143771 MiB, 550.54.15'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_info() == {"name": "NVIDIA H200", "memory": "143771 MiB", "driver": "550.54.15", "count": 2}
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert gpu_info() is None  # a failing nvidia-smi (no driver) is no GPU, not a crash
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert gpu_info() is None
