"""The CIFAR-shaped MobileNet/SqueezeNet students: 8x downsampling (a 4x4 last map at 32 px), heads
scaled with the width, far fewer MACs than the ResNet-56 teacher, and a save/load round trip."""
import pytest
import torch

from edgecv.models import create_model, load_model_file as load_model, save_model
from edgecv.utils.profile import count_macs

STUDENTS = ["cifar_mobilenetv2_050", "cifar_mobilenetv3_small_100", "cifar_mobilenetv3_large_075", "cifar_squeezenet1_1"]


def _last_map(model, x):
    feats = model.forward_features(x) if hasattr(model, "forward_features") else model.features(x)
    return feats.shape[-2:]


@pytest.mark.parametrize("name", STUDENTS)
def test_student_downsamples_8x_and_costs_a_fraction_of_the_teacher(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 10)
        assert tuple(_last_map(model, x)) == (4, 4)
    teacher_macs = count_macs(create_model("cifar_resnet56"), (1, 3, 32, 32))
    assert count_macs(model, (1, 3, 32, 32)) < 0.4 * teacher_macs


def test_head_width_follows_the_width_multiplier():
    assert create_model("cifar_mobilenetv2_050").classifier.in_features == 640
    assert create_model("cifar_mobilenetv2_100").classifier.in_features == 1280
    assert create_model("cifar_mobilenetv3_small_075").classifier.in_features == 768


@pytest.mark.parametrize("name", ["cifar_mobilenetv2_050", "cifar_squeezenet1_1"])
def test_save_and_load_rebuilds_the_same_function(tmp_path, name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7).eval()
    path = save_model(model, tmp_path / "m.pt")
    loaded, _ = load_model(path)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x), model(x))


def test_pretrained_is_refused_with_the_alternative():
    with pytest.raises(ValueError, match="small_input: true"):
        create_model("cifar_mobilenetv2_050", pretrained=True)
