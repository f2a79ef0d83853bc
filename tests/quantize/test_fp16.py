"""FP16 ONNX keeps FP32 inputs/outputs, halves the weights and agrees with FP32."""
from __future__ import annotations


def test_fp16_keeps_fp32_io(onnx20, val_arrays, fp32_preds, tmp_path):
    import onnx

    from edgecv.quantize import quantize_onnx
    from edgecv.quantize.measure import logits

    res = quantize_onnx(onnx20.path, tmp_path / "r20-fp16.onnx", "fp16")
    proto = onnx.load(str(res.artifact.path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer)
    assert res.artifact.path.stat().st_size < 0.6 * onnx20.path.stat().st_size
    preds = logits(res.artifact.path, val_arrays[0][:500]).argmax(1)
    assert (preds == fp32_preds[:500]).mean() >= 0.99
    assert res.artifact.precision == "fp16"
