"""The GPU part of the fingerprint: nvidia-smi's CSV (name, memory, driver, clocks, power limit,
persistence, compute capability) parsed defensively, and the fallback for an nvidia-smi that refuses
the newer fields. The samples are what nvidia-smi prints for `--query-gpu=... --format=csv,noheader`."""
from __future__ import annotations

from edgecv.bench.environment import BASIC_GPU_FIELDS, GPU_FIELDS, gpu_info, parse_gpu_csv

H200 = "NVIDIA H200, 143771 MiB, 570.124.06, 1980 MHz, 2619 MHz, 1980 MHz, 700.00 W, Enabled, 9.0\n"
IDLE_T4 = "Tesla T4, 15360 MiB, 535.183.01, 300 MHz, 405 MHz, 1590 MHz, 70.00 W, Disabled, 7.5\n"
JETSON = "Orin (nvgpu), [N/A], 540.4.0, [N/A], [N/A], [N/A], [N/A], [N/A], 8.7\n"  # JetPack 6: most fields N/A
LAPTOP = "NVIDIA GeForce RTX 3050 Laptop GPU, 4096 MiB, 550.90.07, 210 MHz, 405 MHz, 2100 MHz, [Not Supported], Disabled, 8.6\n"


def test_parses_every_field():
    (gpu,) = parse_gpu_csv(H200)
    assert gpu == {"name": "NVIDIA H200", "memory": "143771 MiB", "driver": "570.124.06", "clocks_sm_mhz": 1980,
                   "clocks_mem_mhz": 2619, "clocks_max_sm_mhz": 1980, "power_limit_w": 700.0,
                   "persistence_mode": True, "compute_cap": "9.0"}


def test_several_gpus_and_unavailable_values():
    gpus = parse_gpu_csv(H200 + IDLE_T4)
    assert [g["name"] for g in gpus] == ["NVIDIA H200", "Tesla T4"]
    assert gpus[1]["clocks_sm_mhz"] == 300 and gpus[1]["persistence_mode"] is False  # an idle GPU's clock reads low
    (jetson,) = parse_gpu_csv(JETSON)
    assert jetson["name"] == "Orin (nvgpu)" and jetson["compute_cap"] == "8.7"
    assert all(jetson[k] is None for k in ("memory", "clocks_sm_mhz", "clocks_mem_mhz", "power_limit_w", "persistence_mode"))
    (laptop,) = parse_gpu_csv(LAPTOP)
    assert laptop["power_limit_w"] is None and laptop["clocks_max_sm_mhz"] == 2100


def test_malformed_answers_give_nothing():
    assert parse_gpu_csv("") == []
    assert parse_gpu_csv('Field "compute_cap" is not a valid field to query.\n') == []
    assert parse_gpu_csv("NVIDIA H200, 143771 MiB\n") == []  # fewer values than fields
    assert parse_gpu_csv("NVIDIA H200, 143771 MiB, 570.1, fast MHz, 2619 MHz, 1980 MHz, lots W, Maybe, 9.0")[0] == {
        "name": "NVIDIA H200", "memory": "143771 MiB", "driver": "570.1", "clocks_sm_mhz": None, "clocks_mem_mhz": 2619,
        "clocks_max_sm_mhz": 1980, "power_limit_w": None, "persistence_mode": None, "compute_cap": "9.0"}
    assert parse_gpu_csv("NVIDIA H200, 143771 MiB, 570.124.06", BASIC_GPU_FIELDS) == [
        {"name": "NVIDIA H200", "memory": "143771 MiB", "driver": "570.124.06"}]


def _smi(tmp_path, monkeypatch, script: str) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + script)
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


def test_gpu_info_asks_nvidia_smi_for_clocks(tmp_path, monkeypatch):
    """A stand-in nvidia-smi that answers the query it is given, as the real one does."""
    _smi(tmp_path, monkeypatch, f'case "$1" in\n  "--query-gpu={",".join(GPU_FIELDS)}") printf "{H200}{H200}" ;;\n'
                                '  *) echo "unexpected query $1" >&2; exit 2 ;;\nesac\n')
    info = gpu_info()
    assert info["name"] == "NVIDIA H200" and info["count"] == 2 and info["clocks_sm_mhz"] == 1980
    assert info["power_limit_w"] == 700.0 and info["compute_cap"] == "9.0" and info["persistence_mode"] is True


def test_old_nvidia_smi_falls_back_to_name_memory_driver(tmp_path, monkeypatch):
    """An nvidia-smi that does not know compute_cap refuses the whole query (exit 2), as old drivers do."""
    _smi(tmp_path, monkeypatch, f'case "$1" in\n  "--query-gpu={",".join(BASIC_GPU_FIELDS)}") echo "Tesla K80, 11441 MiB, 470.256.02" ;;\n'
                                '  *) echo \'Field "compute_cap" is not a valid field to query.\'; exit 2 ;;\nesac\n')
    assert gpu_info() == {"name": "Tesla K80", "memory": "11441 MiB", "driver": "470.256.02", "count": 1}
