"""`keep_fp32` on a tiny MobileNetV3-like ONNX graph (stem + HardSwish, depthwise conv, SE block, head):
each pattern keeps exactly its nodes out of INT8, the kept nodes stay FP32 when ONNX Runtime loads the
file (its WeightBiasQuantization optimizer would quantize their weights per-tensor), inlined HardSwish
nodes get names, and a bad entry is a one-line error naming it."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.quantize import QuantizeSpec
from edgecv.quantize.ptq_onnx import fp32_nodes, quantize_qdq, quantized_nodes
from tests.quantize.conftest import tiny_mobilenet

SE = {"/se/pool", "/se/reduce", "/se/relu", "/se/expand", "/se/gate", "/se/mul"}


def _run(path, x, level: str = "ORT_ENABLE_ALL", dump=None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if dump:
        opts.optimized_model_filepath = str(dump)
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_preprocessing_names_the_nodes_it_inlines(tiny):
    """quant_pre_process inlines HardSwish into unnamed HardSigmoid + Mul nodes; they leave it named."""
    import onnx

    prepared, _, _ = tiny
    nodes = onnx.load(str(prepared)).graph.node
    names = [n.name for n in nodes]
    assert all(names) and len(set(names)) == len(names), names
    assert "HardSwish" not in {n.op_type for n in nodes}, "expected ONNX Runtime to inline HardSwish"
    assert {"HardSigmoid", "Mul"} <= {n.op_type for n in nodes}


def test_patterns_select_their_nodes(tiny):
    prepared, _, _ = tiny
    sel = fp32_nodes(prepared, ["stem", "se", "depthwise", "hardswish", "HardSwish", "Gemm"])
    assert set(sel["se"]) == SE
    assert sel["depthwise"] == ["/dw/conv"]
    assert sel["Gemm"] == ["/head/fc"]
    assert sel["stem"][0] == "/stem/conv" and len(sel["stem"]) == 3  # the conv and its inlined HardSigmoid + Mul
    assert len(sel["hardswish"]) == 4 and set(sel["stem"][1:]) <= set(sel["hardswish"]) and sel["HardSwish"] == sel["hardswish"]
    assert not set(sel["hardswish"]) & SE  # the SE gate's HardSigmoid is not a HardSwish


@pytest.mark.parametrize("entry, expected", [("depthwise", {"/dw/conv"}), ("se", SE), ("Gemm", {"/head/fc"})])
def test_keep_fp32_changes_which_nodes_are_quantized(tiny, tmp_path, entry, expected):
    prepared, images, cache = tiny
    full = set(quantized_nodes(quantize_qdq(prepared, tmp_path / "full.onnx", QuantizeSpec(), cache, images)))
    kept = set(quantized_nodes(quantize_qdq(prepared, tmp_path / "kept.onnx", QuantizeSpec(keep_fp32=[entry]), cache, images)))
    assert expected & full, f"{entry}: expected some of {expected} in INT8 without keep_fp32"
    assert not expected & kept and kept == full - expected


def test_kept_convs_stay_fp32_when_onnxruntime_loads_them(tiny, tmp_path):
    """ORT's WeightBiasQuantization quantizes a float-weight Conv that reads a per-tensor DequantizeLinear
    to per-tensor INT8 at load time; a kept depthwise conv must keep its float weights there too."""
    import onnx

    prepared, images, cache = tiny
    path = quantize_qdq(prepared, tmp_path / "dw.onnx", QuantizeSpec(keep_fp32=["depthwise", "Gemm"]), cache, images)
    _run(path, images[:2], "ORT_ENABLE_BASIC", dump=tmp_path / "loaded.onnx")
    graph = onnx.load(str(tmp_path / "loaded.onnx")).graph
    producer = {o: n.op_type for n in graph.node for o in n.output}
    for name in ("/dw/conv", "/head/fc"):
        node = next(n for n in graph.node if n.name == name)
        assert producer.get(node.input[1]) != "DequantizeLinear", f"{name}: ONNX Runtime quantized its FP32 weights"
    # the same numbers with every optimizer on as with none: nothing was re-quantized behind our back
    np.testing.assert_allclose(_run(path, images), _run(path, images, "ORT_DISABLE_ALL"), rtol=1e-4, atol=1e-4)


def test_bad_entries_are_one_line_errors_naming_them():
    with pytest.raises(ValueError) as e:
        QuantizeSpec(keep_fp32=["se", "HardSwsh"])
    msg = str(e.value)
    assert "'HardSwsh' is neither an ONNX operator type nor a pattern" in msg and "did you mean 'HardSwish'" in msg
    with pytest.raises(ValueError, match="did you mean 'depthwise'"):
        QuantizeSpec(keep_fp32=["Depthwise"])
    assert QuantizeSpec(keep_fp32="se").keep_fp32 == ["se"]
    assert QuantizeSpec(keep_fp32=["Conv", "se", "Conv"]).keep_fp32 == ["Conv", "se"]


def test_cli_keep_fp32(tmp_path, capsys):
    import json

    from PIL import Image

    from edgecv.cli import main

    src = tiny_mobilenet(tmp_path / "m.onnx")
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(4):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(calib / f"{i}.png")
    assert main(["quantize", str(src), "--precision", "int8", "--calib-data", str(calib), "--mean", "0.5", "--std", "0.25",
                 "--keep-fp32", "se,depthwise", "--report", str(tmp_path / "r.json"), "-o", str(tmp_path / "q.onnx")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report["keep_fp32"]["se"]) == SE and report["keep_fp32"]["depthwise"] == ["/dw/conv"]
    assert not (SE | {"/dw/conv"}) & set(quantized_nodes(tmp_path / "q.onnx"))
    assert main(["quantize", str(src), "--precision", "int8", "--calib-data", str(calib), "--mean", "0.5", "--std", "0.25",
                 "--keep-fp32", "se,HardSwsh", "-o", str(tmp_path / "x.onnx")]) == 2
    out = capsys.readouterr().out
    assert "--keep-fp32: 'HardSwsh' is neither" in out and "Traceback" not in out and not (tmp_path / "x.onnx").exists()


def test_recipe_validation_names_the_bad_entry():
    from edgecv.recipe import RecipeError, validate_recipe

    raw = {"name": "q", "data": {"source": "digits"}, "student": {"name": "cifar_resnet8"},
           "stages": [{"type": "quantize", "keep_fp32": ["se", "depthwize"]}]}
    with pytest.raises(RecipeError) as e:
        validate_recipe(raw)
    assert "stages.0.keep_fp32" in str(e.value) and "'depthwize'" in str(e.value) and "did you mean 'depthwise'" in str(e.value)
