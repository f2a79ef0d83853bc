"""The Jetson readers and the tegrastats parser on documented outputs (JetPack 4, 5 and 6), and the
power sampler against stand-in tools. The sample lines are data: the formats NVIDIA's L4T/Jetson Linux
developer guides and forum threads show for each board (values as printed there)."""
from __future__ import annotations

import json
import sys

import pytest

from edgecv.bench import jetson
from edgecv.bench.jetson import (parse_jetson_clocks, parse_l4t_release, parse_nvpmodel, parse_package_version,
                                 parse_tegrastats, total_power)

# JetPack 4 (L4T 32), Jetson Nano: no units, rails POM_5V_*.
NANO_JP4 = ("RAM 1409/3964MB (lfb 28x4MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
            "CPU [22%@518,67%@518,off,off] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@28.5C CPU@32C PMIC@50C "
            "GPU@30.5C AO@39.5C thermal@31.25C POM_5V_IN 2003/2003 POM_5V_GPU 0/0 POM_5V_CPU 320/320")
# JetPack 4.6, Xavier NX: no units, VDD_IN and the combined CPU/GPU/CV rail.
XAVIER_NX_JP4 = ("RAM 3347/7467MB (lfb 896x4MB) SWAP 0/3733MB (cached 0MB) CPU [21%@1190,19%@1190,18%@1190,21%@1190,"
                 "20%@1190,20%@1190] EMC_FREQ 13%@2133 GR3D_FREQ 61% APE 150 MTS fg 0% bg 0% NVDLA0 OFF NVDLA1 OFF "
                 "PVA0 OFF VIC 0%@115 MSENC OFF NVENC OFF NVJPG OFF NVDEC1 OFF NVDEC OFF OFA OFF "
                 "VDD_IN 5336/4970 VDD_CPU_GPU_CV 2617/2336 VDD_SOC 1478/1318 CV0@-256C GPU@49.2C PMIC@50.0C "
                 "AO@48.5C thermal@50.187C")
# JetPack 4 (L4T 32), AGX Xavier: rails named GPU, CPU, SOC, CV, VDDRQ, SYS5V; no input rail.
AGX_XAVIER_JP4 = ("RAM 1966/15692MB (lfb 3008x4MB) SWAP 0/7846MB (cached 0MB) CPU [2%@1190,1%@1190,0%@1190,0%@1190,"
                  "off,off,off,off] EMC_FREQ 0%@1331 GR3D_FREQ 0%@1377 APE 150 MTS fg 0% bg 0% AO@35C GPU@35.5C "
                  "Tdiode@38.25C PMIC@100C AUX@34C CPU@35.5C thermal@35.1C Tboard@35C "
                  "GPU 0/0 CPU 311/311 SOC 933/933 CV 0/0 VDDRQ 155/155 SYS5V 1649/1649")
# L4T 32, TX2: VDD_IN among the VDD_SYS_* rails (not first).
TX2_JP4 = ("RAM 1599/7854MB (lfb 1398x4MB) SWAP 0/3927MB (cached 0MB) CPU [3%@345,off,off,1%@345,0%@345,0%@345] "
           "EMC_FREQ 0%@1600 GR3D_FREQ 0%@114 APE 150 PLL@38C MCPU@38C PMIC@100C Tboard@33C GPU@35.5C BCPU@38C "
           "thermal@36.7C Tdiode@35.75C VDD_SYS_GPU 152/152 VDD_SYS_SOC 612/612 VDD_4V0_WIFI 0/0 VDD_IN 2220/2220 "
           "VDD_SYS_CPU 152/152 VDD_SYS_DDR 360/360")
# JetPack 5 (L4T 35), Orin Nano: a timestamp first, rails in mW.
ORIN_NANO_JP5 = ("08-25-2023 10:15:32 RAM 2261/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) "
                 "CPU [1%@729,0%@729,0%@729,0%@729,0%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305] VIC_FREQ 115 "
                 "APE 200 CV0@-256C CPU@46.718C SOC2@45.062C SOC0@45.781C CV1@-256C GPU@-256C tj@46.718C "
                 "SOC1@44.968C CV2@-256C VDD_IN 4787mW/4787mW VDD_CPU_GPU_CV 597mW/597mW VDD_SOC 1395mW/1395mW")
# JetPack 6 (L4T 36), AGX Orin: lower-case temperatures, no input rail.
AGX_ORIN_JP6 = ("11-14-2024 12:34:56 RAM 3162/30536MB (lfb 6x4MB) SWAP 0/15268MB (cached 0MB) "
                "CPU [1%@729,0%@729,off,off,off,off,off,off,off,off,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305,305] "
                "VIC_FREQ 729 APE 174 cpu@47.968C soc0@46.906C soc1@46.031C soc2@45.875C tj@47.968C gpu@46.343C "
                "VDD_GPU_SOC 3175mW/3175mW VDD_CPU_CV 794mW/794mW VIN_SYS_5V0 3024mW/3024mW VDDQ_VDD2_1V8AO 503mW/503mW")
# Current values only, as some JetPack 6 builds print them.
CURRENT_ONLY = ("RAM 2840/7620MB (lfb 512x4MB) SWAP 0/4096MB CPU [25%@1420,off,off,20%@1420,22%@1420,18%@1420] "
                "GR3D_FREQ 76% PVA0_FREQ 115 VIC_FREQ 115 APE 174 MTS fg 0% bg 0% AO@42.5C GPU@40C PMIC@50C AUX@41C "
                "CPU@42.5C thermal@41.7C VDD_IN 5765mW VDD_CPU_GPU_CV 1548mW VDD_SOC 1497mW")
# L4T 28 (TX1, run without root): no power rails at all.
TX1_NO_RAILS = ("RAM 3468/3983MB (lfb 48x4MB) SWAP 873/8192MB (cached 295MB) cpu [17%,13%,29%,5%]@408 EMC 1%@408 "
                "APE 25 GR3D 3%@76")


@pytest.mark.parametrize("line, rails, total", [
    (NANO_JP4, {"POM_5V_IN": (2003, 2003), "POM_5V_GPU": (0, 0), "POM_5V_CPU": (320, 320)}, ("POM_5V_IN", 2003)),
    (XAVIER_NX_JP4, {"VDD_IN": (5336, 4970), "VDD_CPU_GPU_CV": (2617, 2336), "VDD_SOC": (1478, 1318)}, ("VDD_IN", 5336)),
    (AGX_XAVIER_JP4, {"GPU": (0, 0), "CPU": (311, 311), "SOC": (933, 933), "CV": (0, 0), "VDDRQ": (155, 155),
                      "SYS5V": (1649, 1649)}, ("GPU+CPU+SOC+CV+VDDRQ+SYS5V", 3048)),
    (TX2_JP4, {"VDD_SYS_GPU": (152, 152), "VDD_SYS_SOC": (612, 612), "VDD_4V0_WIFI": (0, 0), "VDD_IN": (2220, 2220),
               "VDD_SYS_CPU": (152, 152), "VDD_SYS_DDR": (360, 360)}, ("VDD_IN", 2220)),
    (ORIN_NANO_JP5, {"VDD_IN": (4787, 4787), "VDD_CPU_GPU_CV": (597, 597), "VDD_SOC": (1395, 1395)}, ("VDD_IN", 4787)),
    (AGX_ORIN_JP6, {"VDD_GPU_SOC": (3175, 3175), "VDD_CPU_CV": (794, 794), "VIN_SYS_5V0": (3024, 3024),
                    "VDDQ_VDD2_1V8AO": (503, 503)}, ("VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0", 6993)),
    (CURRENT_ONLY, {"VDD_IN": (5765, None), "VDD_CPU_GPU_CV": (1548, None), "VDD_SOC": (1497, None)}, ("VDD_IN", 5765)),
    (TX1_NO_RAILS, {}, None),
])
def test_tegrastats_lines(line, rails, total):
    assert parse_tegrastats(line) == rails  # RAM/SWAP/IRAM (MB, kB), APE/VIC counters and temperatures are not rails
    assert total_power({k: cur for k, (cur, _) in rails.items()}) == total


@pytest.mark.parametrize("text, version", [
    ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n"
     "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n", "32.7.1"),
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023\n",
     "35.4.1"),
    ("# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 23:24:25 UTC 2024\n",
     "36.3.0"),
    ("something else\n", None),
])
def test_l4t_release(text, version):
    assert parse_l4t_release(text) == version


@pytest.mark.parametrize("text, version", [
    ("6.0+b106", "6.0"), ("5.1.2-b104", "5.1.2"), ("4.6.1-b110", "4.6.1"),  # dpkg-query -W -f='${Version}' nvidia-jetpack
    ("8.5.2.2-1+cuda11.4", "8.5.2.2"), ("10.3.0.30-1+cuda12.5", "10.3.0.30"),  # ... tensorrt
    ("", None),
])
def test_package_versions(text, version):
    assert parse_package_version(text) == version


def test_nvpmodel_query():
    assert parse_nvpmodel("NV Fan Mode:quiet\nNV Power Mode: MAXN\n0\n") == {"name": "MAXN", "id": 0}  # JetPack 5/6
    assert parse_nvpmodel("NV Power Mode: 5W\n1\n") == {"name": "5W", "id": 1}  # JetPack 4, Nano
    assert parse_nvpmodel("NVPM WARN: fan mode is not set!\nNV Power Mode: MODE_15W_6CORE\n2\n") == {"name": "MODE_15W_6CORE", "id": 2}
    assert parse_nvpmodel("NVPM ERROR: failed to read PARAM\n") is None


# `jetson_clocks --show` on JetPack 5 (AGX Orin) with the default clocks, then after running `jetson_clocks`
ORIN_CLOCKS = """SOC family:tegra234  Machine:Jetson AGX Orin
Online CPUs: 0-11
cpu0: Online=1 Governor=schedutil MinFreq=115200 MaxFreq=2201600 CurrentFreq=1651200 IdleStates: WFI=1 c7=1
cpu1: Online=1 Governor=schedutil MinFreq=115200 MaxFreq=2201600 CurrentFreq=729600 IdleStates: WFI=1 c7=1
GPU MinFreq=306000000 MaxFreq=1300500000 CurrentFreq=306000000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=2133000000 FreqOverride=0
DLA0_CORE:   Online=1 MinFreq=0 MaxFreq=1600000000 CurrentFreq=1600000000
FAN Dynamic Speed control=active hwmon4_pwm=62
NV Power Mode: MAXN
"""
ORIN_CLOCKS_LOCKED = """SOC family:tegra234  Machine:Jetson AGX Orin
Online CPUs: 0-11
cpu0: Online=1 Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600 IdleStates: WFI=0 c7=0
cpu1: Online=1 Governor=schedutil MinFreq=2201600 MaxFreq=2201600 CurrentFreq=2201600 IdleStates: WFI=0 c7=0
GPU MinFreq=1300500000 MaxFreq=1300500000 CurrentFreq=1300500000
EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=3199000000 FreqOverride=1
NV Power Mode: MAXN
"""
# L4T 28.1, TX1 (jetson_clocks.sh --show, its own spelling)
TX1_CLOCKS = """SOC family:tegra210  Machine:jetson_tx1
Online CPUs: 0-3
CPU Cluster Switching: Disabled
cpu0: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu1: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu2: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu3: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
GPU MinFreq=998400000 MaxFreq=998400000 CurrentFreq=998400000
EMC MinFreq=12750000 MaxFreq=1600000000 CurrentFreq=1600000000 FreqOverride=1
Fan: speed=255
"""


def test_jetson_clocks_show():
    assert parse_jetson_clocks(ORIN_CLOCKS) == {"locked": False, "power_mode": "MAXN", "gpu_mhz": 306, "emc_mhz": 2133}
    assert parse_jetson_clocks(ORIN_CLOCKS_LOCKED) == {"locked": True, "power_mode": "MAXN", "gpu_mhz": 1300, "emc_mhz": 3199}
    assert parse_jetson_clocks(TX1_CLOCKS) == {"locked": True, "power_mode": None, "gpu_mhz": 998, "emc_mhz": 1600}
    assert parse_jetson_clocks("Error: Run jetson_clocks as root\n") is None


def _tool(folder, name, script):
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_jetson_info_reads_each_source_and_survives_refusals(tmp_path, monkeypatch):
    """A stand-in Jetson: device-tree model, nv_tegra_release, and the query tools on PATH (jetson_clocks
    refusing without root, as it does): every field read, the refused one None."""
    model, release, bin_ = tmp_path / "model", tmp_path / "nv_tegra_release", tmp_path / "bin"
    bin_.mkdir()
    model.write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    release.write_text("# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, "
                       "DATE: Fri Jul 19 23:24:25 UTC 2024\n")
    _tool(bin_, "dpkg-query", 'case "$*" in *nvidia-jetpack*) printf "6.0+b106";; '
                              '*tensorrt*) printf "tensorrt 10.3.0.30-1+cuda12.5\\nlibnvinfer-bin 10.3.0.30-1+cuda12.5\\n";; '
                              '*) exit 1;; esac\n')
    _tool(bin_, "nvpmodel", '[ "$1" = "-q" ] && printf "NV Power Mode: 15W\\n0\\n"\n')
    _tool(bin_, "jetson_clocks", 'echo "Error: Run jetson_clocks as root" >&2; exit 1\n')
    monkeypatch.setattr(jetson, "DEVICE_TREE_MODEL", model)
    monkeypatch.setattr(jetson, "TEGRA_RELEASE", release)
    monkeypatch.setenv("PATH", str(bin_))
    info = jetson.jetson_info()
    assert info == {"model": "NVIDIA Jetson Orin Nano Developer Kit", "l4t": "36.3.0", "jetpack": "6.0",
                    "tensorrt": info["tensorrt"], "power_mode": {"name": "15W", "id": 0}, "jetson_clocks": None}
    # TensorRT: the Python package where it is installed, else JetPack's Debian package
    from importlib.metadata import PackageNotFoundError, version

    expected = "10.3.0.30"
    for dist in reversed(("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_libs")):
        try:
            expected = version(dist)
        except PackageNotFoundError:
            pass
    assert info["tensorrt"] == expected

    monkeypatch.setattr(jetson, "TEGRA_RELEASE", tmp_path / "absent")
    monkeypatch.setattr(jetson, "DEVICE_TREE_MODEL", tmp_path / "absent")
    assert jetson.jetson_info() is None  # not a Jetson: nothing is claimed


def test_fingerprint_has_no_jetson_here():
    from edgecv.bench.environment import fingerprint

    env = fingerprint()
    assert "jetson" in env
    if not jetson.is_jetson():
        assert env["jetson"] is None


def test_tegrastats_sampler_reports_why_it_got_nothing(tmp_path):
    from edgecv.bench.power import Tegrastats

    with pytest.raises(FileNotFoundError, match="needs a Jetson's tegrastats"):
        Tegrastats(str(tmp_path / "absent")).start()
    _tool(tmp_path, "tegrastats", 'echo "Error: failed to open /sys/bus/i2c/drivers/ina3221x" >&2; exit 1\n')
    with pytest.raises(RuntimeError, match="exited with code 1 .it said: Error: failed to open /sys/bus/i2c"):
        Tegrastats(str(tmp_path / "tegrastats"), first_sample_s=3).start()
    _tool(tmp_path, "tegrastats", 'echo "RAM 1409/3964MB (lfb 28x4MB) SWAP 0/1982MB"; sleep 30\n')  # no rails
    with pytest.raises(RuntimeError, match="printed no power rails within 1 s .it said: RAM 1409/3964MB"):
        Tegrastats(str(tmp_path / "tegrastats"), first_sample_s=1).start()


def test_local_tegrastats_on_the_jetson_itself(onnx20, tmp_path, capsys):
    """`edgecv bench --tegrastats` without --remote (run on the Jetson): a stand-in tegrastats printing
    JetPack 4 Nano lines at a constant 2003 mW: the power is exactly that, energy = power x time / images."""
    from edgecv.cli import main

    fake = tmp_path / "tegrastats"
    fake.write_text(f"""#!{sys.executable}
import sys, time
ms = int(sys.argv[sys.argv.index("--interval") + 1])
while True:
    print({NANO_JP4!r}, flush=True)
    time.sleep(ms / 1000)
""")
    fake.chmod(0o755)
    out = tmp_path / "r.json"
    assert main(["bench", str(onnx20.path), "--warmup", "1", "--min-runs", "3", "--min-time", "0", "--threads", "1",
                 "--tegrastats", "--tegrastats-cmd", str(fake), "--power-time", "1", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["power_rail"] == "POM_5V_IN" and row["power_mw"] == 2003.0 and row["power_mw_idle"] == 2003.0
    assert row["power_rails_mw"] == {"POM_5V_CPU": 320.0, "POM_5V_GPU": 0.0, "POM_5V_IN": 2003.0}
    assert row["energy_mj_per_image"] == pytest.approx(2003.0 * row["power_seconds"] / row["power_images"], rel=1e-3)
    assert row["energy_mj_per_image_dynamic"] == 0.0
    assert f"power {onnx20.path.stem} batch 1: 2003 mW (POM_5V_IN), idle 2003 mW" in capsys.readouterr().out
