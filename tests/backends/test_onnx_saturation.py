"""The static check: an ONNX INT8 file's weights prove it safe or unsafe on x86 without VNNI.

Hand-made QDQ graphs pin the exact condition: within a pair of weights that MLAS multiplies with
VPMADDUBSW (consecutive elements in [kernel position, input channel] order), the positive parts and the
negative parts must each sum to at most 128; uint8 and depthwise weights never saturate."""
from __future__ import annotations

import numpy as np
import pytest

from edgecv.backends.onnx_saturation import PAIR_LIMIT, int8_saturation


def qdq_model(path, weight: np.ndarray, op: str = "Conv", group: int = 1, trans_b: int = 0):
    """x (u8 activations through Q/DQ) -> op with DequantizeLinear(weight) -> y."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    zero = np.zeros(weight.shape[0] if op == "Conv" else 1, dtype=weight.dtype)
    inits = [numpy_helper.from_array(weight, "w_q"), numpy_helper.from_array(np.float32(0.1), "x_scale"),
             numpy_helper.from_array(np.uint8(0), "x_zero"),
             numpy_helper.from_array(np.full(zero.shape, 0.01, np.float32), "w_scale"),
             numpy_helper.from_array(zero, "w_zero")]
    axis = {"axis": 0} if op == "Conv" else {}
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], **axis)]
    if op == "Conv":
        c = weight.shape[1] * group
        x_shape = [1, c, 4, 4]
        nodes.append(helper.make_node("Conv", ["x_dq", "w"], ["y"], name="conv", group=group))
    elif op == "Gemm":
        x_shape = [1, weight.shape[1] if trans_b else weight.shape[0]]
        nodes.append(helper.make_node("Gemm", ["x_dq", "w"], ["y"], name="fc", transB=trans_b))
    else:
        x_shape = [1, weight.shape[0]]
        nodes.append(helper.make_node("MatMul", ["x_dq", "w"], ["y"], name="mm"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def conv_weight(pairs_of_channel0: list[int], out_channels: int = 2, kernel: int = 1) -> np.ndarray:
    """[M, C, k, k] int8 weights whose channel 0, read in [kernel position, input channel] order, is
    `pairs_of_channel0`; other channels are small."""
    m, k2 = out_channels, kernel * kernel
    c = len(pairs_of_channel0) // k2
    w = np.ones((m, c, kernel, kernel), dtype=np.int8)
    order = np.array(pairs_of_channel0, dtype=np.int8).reshape(k2, c).T.reshape(c, kernel, kernel)
    w[0] = order
    return w


@pytest.mark.parametrize("values, safe", [
    ([64, 64, 0, 0], True),  # 255 * 128 = 32640 fits int16
    ([65, 64, 0, 0], False),  # 255 * 129 = 32895 does not
    ([-64, -64, 0, 0], True),  # -32640 >= -32768
    ([-65, -64, 0, 0], False),
    ([127, -127, 127, -127], True),  # opposite signs in each pair: at most 255 * 127
    ([127, 2, 0, 0], False),  # an 8-bit extreme and any same-signed neighbour above 1
    ([127, 1, 0, 0], True),
])
def test_the_pair_condition(tmp_path, values, safe):
    check = int8_saturation(qdq_model(tmp_path / "m.onnx", conv_weight(values)))
    assert check.safe is safe, check.summary()
    assert len(check.weights) == 1 and check.weights[0].safe is safe
    if not safe:
        assert check.weights[0].worst > PAIR_LIMIT and check.weights[0].channels == 1
        assert "unsafe on x86 without VNNI: 1 of 1 int8 weight tensor(s)" in check.summary()


def test_pairs_follow_kernel_position_then_input_channel(tmp_path):
    """A 3x3 conv over 2 input channels: each kernel position's two channels are a pair. 100 and 100 on the
    same channel at two positions are never paired (safe); on both channels of one position they are."""
    w = np.zeros((2, 2, 3, 3), dtype=np.int8)
    w[0, 0, 0, 0] = w[0, 0, 0, 1] = 100  # channel 0 at positions 0 and 1: different pairs
    assert int8_saturation(qdq_model(tmp_path / "a.onnx", w)).safe
    w = np.zeros((2, 2, 3, 3), dtype=np.int8)
    w[0, 0, 0, 0] = w[0, 1, 0, 0] = 100  # both channels at position 0: one pair, 200 > 128
    assert not int8_saturation(qdq_model(tmp_path / "b.onnx", w)).safe


def test_gemm_and_matmul_pair_along_k(tmp_path):
    w_nk = np.zeros((3, 4), dtype=np.int8)
    w_nk[1, 2] = w_nk[1, 3] = 90  # output 1: K elements 2 and 3, a pair
    assert not int8_saturation(qdq_model(tmp_path / "g.onnx", w_nk, "Gemm", trans_b=1)).safe
    assert int8_saturation(qdq_model(tmp_path / "g2.onnx", np.ascontiguousarray(w_nk.T), "Gemm", trans_b=0)).safe is False
    w_kn = np.zeros((4, 3), dtype=np.int8)
    w_kn[1, 0] = w_kn[2, 0] = 90  # K elements 1 and 2 are in different pairs
    assert int8_saturation(qdq_model(tmp_path / "m.onnx", w_kn, "MatMul")).safe


def test_uint8_and_depthwise_weights_never_saturate(tmp_path):
    u8 = np.full((2, 4, 1, 1), 255, dtype=np.uint8)
    check = int8_saturation(qdq_model(tmp_path / "u.onnx", u8))
    assert check.safe and check.unsigned == 1 and not check.weights
    dw = np.full((4, 1, 3, 3), 127, dtype=np.int8)  # one input channel per group: widened to int32, no pairs
    check = int8_saturation(qdq_model(tmp_path / "d.onnx", dw, group=4))
    assert check.safe and check.depthwise == 1 and "1 depthwise never saturate" in check.summary()


def matmul_integer(path, w: np.ndarray, rows: int = 8):
    """u8 activations [rows, K] x s8 weights [K, N] -> the int32 products, as ONNX Runtime's MLAS computes them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi")], "g",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [rows, w.shape[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [rows, w.shape[1]])],
                              [numpy_helper.from_array(w, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_qoperator_files_are_read_too(tmp_path):
    """MatMulInteger (the dynamic-quantization format) keeps its s8 weights as an initializer."""
    w = np.zeros((4, 2), dtype=np.int8)
    w[0, 0] = w[1, 0] = 127
    check = int8_saturation(matmul_integer(tmp_path / "q.onnx", w, rows=1))
    assert not check.safe and check.weights[0].op == "MatMulInteger" and check.weights[0].example == (127, 127)


def _products(path, k: int, rows: int = 8) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"a": np.full((rows, k), 255, dtype=np.uint8)})[0]


def _weights(value: int, k: int = 64, n: int = 16) -> np.ndarray:
    return np.full((k, n), value, dtype=np.int8)


@pytest.mark.cpu(saturates=False)
def test_8bit_weights_are_exact_where_int8_does_not_saturate(tmp_path):
    """VNNI (or ARM): 255 x 127 summed over K comes out exact, though the file is unsafe for AVX2."""
    w = _weights(127)
    path = matmul_integer(tmp_path / "m.onnx", w)
    assert not int8_saturation(path).safe
    assert (_products(path, 64) == 255 * 127 * 64).all()


@pytest.mark.cpu(has=("avx2",), saturates=True)
def test_8bit_weights_saturate_on_x86_without_vnni_and_7bit_ones_do_not(tmp_path):
    """What the static check predicts, on the CPU it is about: each pair 255 * (127 + 127) = 64770 is cut to
    32767 in int16; pairs of 64 (7-bit weights) give 32640 and come out exact."""
    eight = matmul_integer(tmp_path / "m8.onnx", _weights(127))
    seven = matmul_integer(tmp_path / "m7.onnx", _weights(64))
    assert not int8_saturation(eight).safe and int8_saturation(seven).safe
    assert (_products(eight, 64) < 255 * 127 * 64).all()
    assert (_products(seven, 64) == 255 * 64 * 64).all()


def test_a_float_model_has_nothing_to_saturate(tmp_path):
    from tests.quantize.conftest import tiny_mobilenet

    check = int8_saturation(tiny_mobilenet(tmp_path / "fp32.onnx"))
    assert check.safe and not check.weights
