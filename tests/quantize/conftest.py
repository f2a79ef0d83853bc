"""Fixtures for the quantization tests: the CIFAR ResNet-20 teacher as FP32 ONNX, calibration images
from the train split, 1000 stratified images of the shared val split (100 per class), and a tiny
MobileNetV3-like ONNX graph built in code (`tiny`: prepared for quantization, with random images)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.bench.conftest import onnx20, teacher20  # noqa: F401  (shared fixtures)
from tests.conftest import need_shared

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
VAL_IMAGES = 1000  # of the 5000 shared val images: the full set is the benchmark's job (2 shared CPU cores)


@pytest.fixture(scope="session")
def calib():
    from edgecv.data import CalibrationSource

    return CalibrationSource.from_folder(need_shared("cifar10", "train"), 32, MEAN, STD, size=128)


@pytest.fixture(scope="session")
def val1000():
    from edgecv.bench import EvalSet
    from edgecv.data.subset import stratified_subset

    ev = EvalSet.from_folder(need_shared("cifar10", "val"), 32, MEAN, STD, batch_size=250)
    ev.dataset = stratified_subset(ev.dataset, VAL_IMAGES, 0)
    return ev


@pytest.fixture(scope="session")
def val_arrays(val1000):
    import numpy as np

    xs, ys = zip(*val1000.batches())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="session")
def fp32_preds(onnx20, val_arrays):  # noqa: F811
    from edgecv.quantize.measure import logits

    return logits(onnx20.path, val_arrays[0]).argmax(1)


def tiny_mobilenet(path, seed: int = 0):
    """A MobileNetV3-like ONNX graph: 3x8x8 image -> stem conv + HardSwish -> depthwise 3x3 + Relu -> SE ->
    1x1 conv + HardSwish -> pool -> Gemm (10 logits)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = []

    def w(name, *shape, scale=0.5):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    # depthwise channels with ranges far apart: per-tensor INT8 weights flatten the small ones to zero
    dw = (rng.standard_normal((8, 1, 3, 3)) * np.logspace(-3, 0, 8)[:, None, None, None]).astype(np.float32)
    inits.append(numpy_helper.from_array(dw, "dw.w"))
    nodes = [
        helper.make_node("Conv", ["input", w("stem.w", 8, 3, 3, 3), w("stem.b", 8)], ["s"], name="/stem/conv", pads=[1] * 4),
        helper.make_node("HardSwish", ["s"], ["s_act"], name="/stem/act"),
        helper.make_node("Conv", ["s_act", "dw.w", w("dw.b", 8)], ["d"], name="/dw/conv", group=8, pads=[1] * 4),
        helper.make_node("Relu", ["d"], ["d_act"], name="/dw/act"),
        helper.make_node("ReduceMean", ["d_act"], ["se_p"], name="/se/pool", axes=[2, 3], keepdims=1),
        helper.make_node("Conv", ["se_p", w("se1.w", 4, 8, 1, 1), w("se1.b", 4)], ["se_r"], name="/se/reduce"),
        helper.make_node("Relu", ["se_r"], ["se_ra"], name="/se/relu"),
        helper.make_node("Conv", ["se_ra", w("se2.w", 8, 4, 1, 1), w("se2.b", 8)], ["se_e"], name="/se/expand"),
        helper.make_node("HardSigmoid", ["se_e"], ["se_g"], name="/se/gate", alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["d_act", "se_g"], ["se_o"], name="/se/mul"),
        helper.make_node("Conv", ["se_o", w("pw.w", 16, 8, 1, 1), w("pw.b", 16)], ["p"], name="/pw/conv"),
        helper.make_node("HardSwish", ["p"], ["p_act"], name="/pw/act"),
        helper.make_node("GlobalAveragePool", ["p_act"], ["g"], name="/head/pool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/head/flatten"),
        helper.make_node("Gemm", ["f", w("fc.w", 10, 16), w("fc.b", 10)], ["logits"], name="/head/fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(prepared ONNX, calibration images, a calibration cache path)."""
    from edgecv.quantize.ptq_onnx import preprocess_model

    work = tmp_path_factory.mktemp("tiny")
    prepared = preprocess_model(tiny_mobilenet(work / "tiny.onnx"), work / "prepared.onnx")
    images = np.random.default_rng(1).standard_normal((32, 3, 8, 8)).astype(np.float32)
    return prepared, images, work / "calibration.json"
