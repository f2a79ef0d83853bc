import json

from edgecv.cli import main


def test_info_lists_backends_and_versions(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    status = {b["backend"]: b for b in data["backends"]}
    assert status["torch"]["available"] and status["torch"]["note"] == "" and status["torch"]["extra"] is None
    assert status["onnxruntime"]["available"] and status["onnxruntime"]["extra"] == "onnx"
    assert status["onnxruntime"]["install"] == "pip install 'edgecv[onnx]'"
    assert status["onnxruntime"]["packages"] == {"onnx": True, "onnxruntime": True, "onnxslim": True}
    for b in data["backends"]:  # every unusable backend says why and what to install
        assert b["available"] or (b["note"] and b["install"] and b["install"] in b["note"]), b
    assert data["environment"]["libraries"]["torch"] and data["environment"]["cpu"]


def test_info_lists_tensorrt_with_its_extra(capsys):
    """TensorRT is a registered backend: listed with its extra, and unusable here for the reason its
    available() gives (tensorrt missing: the extra to install; no NVIDIA GPU: says so)."""
    from edgecv.backends import BACKENDS
    from edgecv.backends.tensorrt.trtexec import find_trtexec

    assert main(["info", "--json"]) == 0
    trt = {b["backend"]: b for b in json.loads(capsys.readouterr().out)["backends"]}["tensorrt"]
    assert trt["extra"] == "tensorrt" and trt["install"] == "pip install 'edgecv[tensorrt]'"
    assert trt["in_this_version"] and trt["suffix"] == ".engine"
    assert {"tensorrt", "pycuda"} <= set(trt["packages"])
    from edgecv.backends.tensorrt.runner import bindings_installed

    assert trt["packages"]["tensorrt"] == bindings_installed()
    ok, why = BACKENDS.get("tensorrt").available()
    assert trt["available"] == ok
    if not ok:
        assert why in trt["note"] and "pip install 'edgecv[tensorrt]'" in trt["note"]
        if not trt["packages"]["tensorrt"] and find_trtexec() is None:
            assert why.startswith("tensorrt not installed: pip install 'edgecv[tensorrt]'")
        else:  # installed (or JetPack's trtexec is there), but no GPU
            assert "no NVIDIA GPU" in why
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backends" in out and "tensorrt" in out
    if not ok:
        assert "edgecv[tensorrt]" in out  # the table prints the hint as text, not as rich markup


def test_a_missing_extra_is_reported_with_what_to_install(monkeypatch, capsys):
    """With the onnx packages unfindable, the onnxruntime row says which ones and the extra."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxruntime", "onnxslim") else real(name, *a))
    assert main(["info", "--json"]) == 0
    ort = {b["backend"]: b for b in json.loads(capsys.readouterr().out)["backends"]}["onnxruntime"]
    assert not ort["available"] and "onnx, onnxruntime, onnxslim not installed" in ort["note"]
    assert "pip install 'edgecv[onnx]'" in ort["note"]


def test_info_lists_the_cpu_features_that_decide_int8(capsys):
    """The features that decide quantized kernels, present and absent, what they mean for INT8, and the targets."""
    from edgecv.targets import KERNEL_FEATURES, TARGET_NAMES, host_target

    host = host_target()
    assert main(["info", "--json"]) == 0
    env = json.loads(capsys.readouterr().out)["environment"]
    assert env["cpu_arch"] == host.arch and env["cpu_features"] == list(host.features)
    assert main(["info"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"CPU features ({host.arch}, the ones that decide quantized kernels): {' '.join(host.features) or 'none'}" in out
    absent = [f for f in KERNEL_FEATURES.get(host.arch, {}) if f not in host.features]
    assert not absent or f"absent: {' '.join(absent)}" in out
    assert f"build targets (export/quantize --target): {', '.join(TARGET_NAMES)}" in out
    if host.int8_saturates:
        assert "builds for this host get 7-bit weights" in out
    elif host.vnni:
        assert "8-bit weights run exactly here" in out
