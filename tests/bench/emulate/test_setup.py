"""Setting an emulated target up: the classes, and every piece that cannot be had failing with one line
that names it (in a scratch $EDGECV_HOME, so a real set-up is never touched)."""
from __future__ import annotations

import shutil

import pytest

from edgecv.bench.emulate import EmulationSetupError, find, prepare, target, target_names
from edgecv.bench.emulate import provision
from edgecv.cli import main


@pytest.fixture
def scratch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECV_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def test_classes_and_the_default():
    assert target("arm64").name == "arm64-a76"
    assert {n: target(n).qemu_cpu for n in ("arm64-a53", "arm64-a76", "arm64-i8mm")} == \
        {"arm64-a53": "cortex-a53", "arm64-a76": "cortex-a76", "arm64-i8mm": "neoverse-n2"}
    assert "asimddp" in target("arm64-a53").absent and "i8mm" in target("arm64-i8mm").features
    assert target("x86-avx2").qemu_cpu == "Haswell-noTSX" and "avx512vnni" in target("x86-avx2").absent
    with pytest.raises(ValueError, match="choose one of arm64, arm64-a53, arm64-a76, arm64-i8mm, x86-avx2"):
        target("arm64-a72")
    assert target_names()[0] == "arm64"


def test_nothing_is_set_up_in_a_new_home(scratch_home):
    assert find("arm64") is None
    assert main(["emulate", "status", "--json"]) == 0


def test_without_apt_it_says_what_to_install(scratch_home, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no apt-get, no dpkg-deb
    with pytest.raises(EmulationSetupError) as e:
        prepare("arm64", log=lambda m: None)
    assert "apt-get and dpkg-deb" in _one_line(e)


def test_without_debians_keys_it_says_which_package(scratch_home, monkeypatch, tmp_path):
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        pytest.skip("needs apt-get and dpkg-deb (a Debian or Ubuntu machine)")
    monkeypatch.setattr(provision, "DEBIAN_KEYRING", tmp_path / "no-keyring.gpg")
    with pytest.raises(EmulationSetupError) as e:
        prepare("arm64", log=lambda m: None)
    assert "apt-get install debian-archive-keyring" in _one_line(e)


def test_an_unreachable_archive_names_qemu_and_the_mirror(scratch_home, monkeypatch):
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb") and provision.DEBIAN_KEYRING.is_file()):
        pytest.skip("needs apt-get, dpkg-deb and Debian's archive keys")
    monkeypatch.setenv("EDGECV_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")  # the discard port: refused
    with pytest.raises(EmulationSetupError) as e:
        prepare("arm64", log=lambda m: None)
    msg = _one_line(e)
    assert msg.startswith("QEMU 10") and "http://127.0.0.1:9/debian" in msg and "trixie" in msg
    assert not (scratch_home / "emulate" / "qemu").exists()  # nothing half made is left


def test_a_wheel_that_does_not_exist_names_the_wheel(tmp_path):
    with pytest.raises(EmulationSetupError) as e:
        provision._fetch_wheels(tmp_path, provision.ARCHES["arm64"], {"onnxruntime": "0.0.1"})
    assert "aarch64 wheels of onnxruntime==0.0.1" in _one_line(e)


def test_the_cli_reports_a_failed_set_up_in_one_line(scratch_home, monkeypatch, tmp_path, tiny_onnx, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["bench", str(tiny_onnx.path), "--emulate", "arm64", "--min-runs", "1", "--min-time", "0",
                 "--warmup", "0"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("error: setting up emulation needs apt-get and dpkg-deb")


@pytest.mark.parametrize("flags, said", [
    (["--emulate", "arm64-x"], "unknown emulated target 'arm64-x'"),
    (["--emulate", "arm64", "--remote", "user@host"], "does not combine with --remote"),
    (["--emulate-images", "10"], "--emulate-images needs --emulate"),
])
def test_bench_refuses_emulate_flags_that_cannot_work(flags, said, tiny_onnx, capsys):
    assert main(["bench", str(tiny_onnx.path), *flags]) == 2
    assert said in capsys.readouterr().out


def test_a_recipe_names_only_known_classes():
    from pydantic import ValidationError

    from edgecv.stages.benchmark import BenchmarkStage

    assert BenchmarkStage(emulate=["arm64", "arm64-a53"]).emulate == ["arm64-a76", "arm64-a53"]
    with pytest.raises(ValidationError, match="unknown emulated target 'x86'"):
        BenchmarkStage(emulate=["x86"])


def test_a_recipe_whose_target_cannot_be_set_up_still_writes_its_ledger(scratch_home, monkeypatch, tmp_path):
    """`emulate:` in a benchmark stage on a machine without apt: the emulated rows say why, the rest is measured."""
    import edgecv
    from edgecv.recipe import validate_recipe

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    raw = {"name": "emulate-test", "seed": 0, "device": "cpu",
           "data": {"source": "digits", "image_size": 16, "max_train": 40, "max_val": 30, "workers": 0},
           "student": {"name": "cifar_resnet8"},
           "stages": [{"type": "export", "to": ["onnx"]},
                      {"type": "benchmark", "threads": 1, "warmup": 0, "min_runs": 2, "min_time_s": 0,
                       "torch_reference": False, "emulate": ["arm64"], "emulate_precisions": ["fp32"]}]}
    ctx = edgecv.run(validate_recipe(raw), out_dir=tmp_path / "run")
    host, emulated = ctx.results
    assert host["status"] == "ok" and host["latency_ms_p50"] is not None and host.get("emulated") is None
    assert emulated["emulated"] == "arm64-a76" and emulated["status"] == "export_failed"
    assert emulated["reason"].startswith("emulated arm64-a76: setting up emulation needs apt-get and dpkg-deb")


def test_one_venvs_python_and_python3_are_one_interpreter_but_two_venvs_are_not(tmp_path):
    import sys

    for venv in ("a", "b"):
        (tmp_path / venv).mkdir()
        (tmp_path / venv / "python3").symlink_to(sys.executable)
        (tmp_path / venv / "python").symlink_to(tmp_path / venv / "python3")
    a, b = tmp_path / "a", tmp_path / "b"
    assert provision.same_interpreter(str(a / "python3"), str(a / "python"))
    assert not provision.same_interpreter(str(a / "python3"), str(b / "python3"))
    assert not provision.same_interpreter(None, str(a / "python"))
