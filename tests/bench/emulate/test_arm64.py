"""The quickstart's pruned INT8 artifacts (ONNX Runtime and TFLite) evaluated under arm64 emulation, for real:
QEMU 10, Debian's arm64 Python and the aarch64 wheels of the host's runtime versions (.ci/run sets them up with
`edgecv emulate setup arm64`). On a small subset of the digits, the emulated top-1 and agreement must equal the
host's within one image, or the row must report how many images differ. No row has a latency."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgecv.cli import main

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
LATENCY = ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean", "throughput_ips")


@pytest.fixture(scope="module")
def arm64():
    """The set-up arm64 (and, on an x86-64 host, x86-64) targets; set up here if they can be. Skipped only where
    they cannot (never in CI, whose .ci/run sets them up)."""
    import platform

    from edgecv.bench.emulate import EmulationSetupError, find, prepare

    arches = ["arm64"] + (["x86_64"] if platform.machine() == "x86_64" else [])
    for arch in arches:
        if find(arch) is None:
            try:
                prepare(arch)
            except EmulationSetupError as e:
                if os.environ.get("CI"):
                    pytest.fail(f".ci/run should have set up emulation (edgecv emulate setup arm64 x86-avx2): {e}")
                pytest.skip(f"{arch} emulation is not set up and cannot be set up here: {e}")
    return find("arm64")


def short_quickstart(out: Path) -> Path:
    """The quickstart's student, pruned and exported to INT8 as the quickstart does it (ONNX Runtime QDQ, TFLite
    full integer), trained directly for a few epochs and recovered by KD from its unpruned self instead of from a trained
    teacher (minutes saved), with
    `emulate: [arm64]` in its benchmark stage. Written beside `out` as a recipe file."""
    import yaml

    recipe = yaml.safe_load(QUICKSTART.read_text())
    stages = recipe["stages"]
    prune = next(s for s in stages if s["type"] == "prune")
    export = next(s for s in stages if s["type"] == "export" and s["models"] == ["pruned"])
    bench = next(s for s in stages if s["type"] == "benchmark")
    prune = {**prune, "teacher": "self", "finetune": {"epochs": 1, "lr": 0.02, "threads": 1}, "final_epochs": 1}
    recipe["data"]["max_val"] = 120
    recipe["stages"] = [
        {"type": "train", "model": "student", "epochs": 4, "lr": 0.1, "warmup_epochs": 1, "threads": 1},
        prune, {**export, "precision": ["int8"], "calib_size": 64},
        {**bench, "threads": 1, "min_runs": 5, "min_time_s": 0, "warmup": 1, "torch_reference": False,
         "emulate": ["arm64"], "emulate_images": 60},
    ]
    path = out.parent / "quickstart-emulate.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def quickstart(arm64, tmp_path_factory):
    """A short quickstart run with `emulate: [arm64]` in its benchmark stage: (run folder, its rows)."""
    out = tmp_path_factory.mktemp("quickstart") / "run"
    assert main(["run", str(short_quickstart(out)), "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())["rows"]


def _within_one_image_or_reported(row: dict) -> None:
    one = 100.0 / row["images"] + 1e-6
    same = abs(row["top1"] - row["host_top1"]) <= one
    if row.get("host_agreement") is not None:  # agreement exists only where the file has a PyTorch reference
        same = same and abs(row["agreement"] - row["host_agreement"]) <= one
    if row["differ_from_host"] > 1 or not same:
        assert "differ from the host" in (row.get("reason") or ""), row  # the difference is reported
        print(f"{row['backend']} {row['precision']} on {row['emulated']}: {row['differ_from_host']} of "
              f"{row['images']} images differ from the host (top-1 {row['top1']} vs {row['host_top1']})")


def test_the_recipe_adds_emulated_rows_for_its_int8_artifacts(quickstart):
    _, rows = quickstart
    host = {(r["backend"], r["precision"]): r for r in rows if r.get("role") == "pruned" and not r.get("emulated")}
    emulated = {(r["backend"], r["precision"]): r for r in rows if r.get("emulated")}
    assert set(emulated) == {("onnxruntime", "int8"), ("tflite", "int8")}  # emulate_precisions: [int8] by default
    for key, row in emulated.items():
        assert row["emulated"] == "arm64-a76" and row["role"] == "pruned", row
        assert row["status"] in ("ok", "inaccurate"), row.get("reason")
        assert all(row[k] is None for k in LATENCY), "an emulated row shows no latency"
        assert "cortex-a76" in row["device"] and "asimddp" in row["emulated_cpu"]["features"]
        assert row["images"] >= 50 and row["host_top1"] > 40, row  # a small subset, on a model that learned
        assert host[key]["latency_ms_p50"] is not None  # the host's own row is there, timed
        _within_one_image_or_reported(row)


def test_bench_emulates_each_arm64_class(quickstart, tmp_path, capsys):
    """`edgecv bench ARTIFACT --emulate ...` on the pruned INT8 files, on a labelled folder of digits."""
    run, _ = quickstart
    data = _digits_folder(tmp_path / "digits", per_class=6)
    reference = next(run.glob("stages/*/models/pruned.pt"))
    for path in sorted(run.glob("stages/*_export/pruned/*/*-int8.*")):
        if path.suffix not in (".onnx", ".tflite"):
            continue
        out = tmp_path / f"{path.suffix[1:]}.json"
        assert main(["bench", str(path), "--data", str(data), "--reference", str(reference), "--emulate",
                     "arm64-a53,arm64-i8mm", "--json", str(out), "--min-runs", "3", "--min-time", "0", "--warmup", "1",
                     "--threads", "1"]) == 0
        host, a53, i8mm = json.loads(out.read_text())["rows"]
        assert host.get("emulated") is None and host["latency_ms_p50"] is not None
        assert (a53["emulated"], i8mm["emulated"]) == ("arm64-a53", "arm64-i8mm")
        assert "asimddp" not in a53["emulated_cpu"]["features"] and "i8mm" in i8mm["emulated_cpu"]["features"]
        for row in (a53, i8mm):
            assert row["images"] == 60 and row["status"] in ("ok", "inaccurate")
            assert all(row[k] is None for k in LATENCY)
            assert row["host_top1"] == host["top1"] and row["host_agreement"] == host["agreement"]
            _within_one_image_or_reported(row)
    printed = capsys.readouterr().out
    assert "same as host %" in printed and "arm64-a53" in printed


def test_x86_avx2_runs_the_hosts_runtime_on_a_cpu_without_vnni(quickstart, tmp_path):
    """The same harness on an x86-64 CPU without AVX-512 and VNNI (QEMU's Haswell on this machine's own Python and
    ONNX Runtime): ONNX Runtime's u8s8 kernels there add pairs of products into a saturating int16, so an 8-bit
    INT8 build may lose images the host gets right; the row reports how many."""
    run, _ = quickstart
    path = next(run.glob("stages/*_export/pruned/onnxruntime/*-int8.onnx"))
    out = tmp_path / "x86.json"
    assert main(["bench", str(path), "--data", str(_digits_folder(tmp_path / "digits", per_class=3)), "--emulate",
                 "x86-avx2", "--json", str(out), "--min-runs", "3", "--min-time", "0", "--warmup", "1",
                 "--threads", "1"]) == 0
    host, x86 = json.loads(out.read_text())["rows"]
    assert x86["emulated"] == "x86-avx2" and x86["status"] in ("ok", "inaccurate") and x86["images"] == 30
    assert x86["device"] == "qemu Haswell-noTSX (avx2)"  # CPUID as the emulated process sees it
    assert "avx2" in x86["emulated_cpu"]["features"] and "avx512f" not in x86["emulated_cpu"]["features"]
    assert all(x86[k] is None for k in LATENCY) and host["latency_ms_p50"] is not None
    _within_one_image_or_reported(x86)


def _digits_folder(root: Path, per_class: int) -> Path:
    """The digits' validation images as PNGs in class folders (what `--data` takes)."""
    from PIL import Image

    from edgecv.data.digits import digits_splits

    _, (images, labels) = digits_splits()
    counts: dict[int, int] = {}
    for i, (img, label) in enumerate(zip(images, labels)):
        if counts.get(int(label), 0) < per_class:
            counts[int(label)] = counts.get(int(label), 0) + 1
            (root / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).convert("RGB").save(root / str(label) / f"{i:04d}.png")
    return root
