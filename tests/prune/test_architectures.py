"""Every supported architecture pruned by 50 % of its channels still runs, exports to ONNX, agrees with
itself on ONNX Runtime, shrinks its MACs by about (1 - 0.5)^2, and round-trips through save/load."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from edgecv.models import create_model, load_model_file as load_model, save_model
import edgecv.prune.checkpoint  # noqa: F401  (registers the `pruning` checkpoint extension)
from edgecv.prune.pruner import ChannelPruner
from edgecv.prune.spec import PruneSpec
from edgecv.utils.profile import count_macs

ARCHS = [  # name, small_input: all at 32 px so the suite stays fast on 2 cores
    ("cifar_resnet20", False),  # option-A (parameter-free, zero-padded) shortcuts
    ("mobilenetv2_100", True),  # depthwise convs, inverted residuals
    ("mobilenetv3_small_100", True),  # depthwise + squeeze-excitation + hard-swish
    ("squeezenet1_1", True),  # Fire modules that concatenate
    ("resnet18", True),  # timm ResNet, basic blocks
    ("resnet50", True),  # timm ResNet, bottlenecks with projection shortcuts
]


@pytest.mark.parametrize("name,small", ARCHS)
def test_half_channels_runs_exports_and_reloads(name, small, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from edgecv.export import export_onnx

    torch.manual_seed(0)
    model = create_model(name, num_classes=10, small_input=small).eval()
    shape = (1, 3, 32, 32)
    widths0 = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    macs0 = count_macs(model, shape)

    pruner = ChannelPruner(model, torch.randn(*shape), PruneSpec(macs_ratio=0.5))
    pruner.prune_to_ratio(0.5)
    history = pruner.finish()

    ratio = count_macs(model, shape) / macs0
    assert 0.15 < ratio < 0.36, f"{name}: MACs ratio {ratio:.3f} after removing half the channels"
    narrowed = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and n in widths0 and m.out_channels < widths0[n]]
    assert len(narrowed) >= 3
    assert model.edgecv_spec["name"] == name and model.edgecv_pruning is history

    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = model.eval()(x).numpy()
    assert ref.shape == (4, 10) and np.isfinite(ref).all()

    onnx_path = export_onnx(model, tmp_path / "pruned.onnx", shape)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)

    save_model(model, tmp_path / "pruned.pt")
    loaded, meta = load_model(tmp_path / "pruned.pt")
    assert meta["pruning"]["sessions"][0]["groups"]
    with torch.no_grad():
        np.testing.assert_allclose(loaded.eval()(x).numpy(), ref, rtol=1e-5, atol=1e-6)
