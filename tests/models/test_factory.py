import pytest
import torch

from edgecv.models import create_model, data_config, load_model, save_model


@pytest.mark.parametrize("name", ["cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56"])
def test_cifar_resnet_family_is_in_timm_registry(name):
    import timm

    assert timm.is_model(name)
    model = create_model(name, num_classes=7).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert data_config(model)["input_size"] == (3, 32, 32)


@pytest.mark.parametrize("name", ["mobilenetv2_050", "mobilenetv3_small_050", "squeezenet1_0", "squeezenet1_1", "resnet18"])
def test_students_small_input_keep_spatial_size(name):
    """With small_input the 32 px input is reduced 2-4x less, so the last feature map is not 1x1."""
    big = create_model(name, num_classes=10).eval()
    small = create_model(name, num_classes=10, small_input=True).eval()
    x = torch.randn(1, 3, 32, 32)
    assert small(x).shape == (1, 10)
    from edgecv.utils.profile import count_macs

    assert count_macs(small, x.shape) > 2 * count_macs(big, x.shape)


def test_unknown_model_suggests():
    with pytest.raises(KeyError, match="did you mean 'cifar_resnet56'"):
        create_model("cifar_resnet65")


def test_pretrained_cifar_resnet_explains_checkpoint():
    with pytest.raises(ValueError, match="pass a local `checkpoint:`"):
        create_model("cifar_resnet20", pretrained=True)


def test_save_load_roundtrip(tmp_path):
    model = create_model("squeezenet1_1", num_classes=4, small_input=True).eval()
    path = save_model(model, tmp_path / "m.pt", {"class_names": list("abcd")})
    again, meta = load_model(path)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(model(x), again.eval()(x))
    assert meta["class_names"] == list("abcd") and meta["spec"]["small_input"] is True


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    save_model(create_model("cifar_resnet20", num_classes=10), tmp_path / "r20.pt")
    with pytest.raises(ValueError, match="does not match model 'cifar_resnet32'"):
        create_model("cifar_resnet32", num_classes=10, checkpoint=tmp_path / "r20.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint .*junk.pt"):
        create_model("cifar_resnet20", checkpoint=tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="not an edgecv model file"):
        load_model(tmp_path / "r20.pt" if False else _plain_state(tmp_path))


def _plain_state(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(create_model("cifar_resnet20").state_dict(), path)
    return path
