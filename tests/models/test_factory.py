import pytest
import torch

from edgecv.models import create_model, data_config, load_model_file as load_model, save_model


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
        load_model(_plain_state(tmp_path))


def test_wrong_architecture_is_summarised_with_the_likely_model(tmp_path):
    """A ResNet-20 state dict loaded into a ResNet-56: counts, a few names and the right model, not 8 KB of keys."""
    path = tmp_path / "r20.pt"
    torch.save(create_model("cifar_resnet20", num_classes=10).state_dict(), path)
    with pytest.raises(ValueError) as e:
        create_model("cifar_resnet56", num_classes=10, checkpoint=path)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 600, msg
    assert f"checkpoint {path} does not match model 'cifar_resnet56'" in msg
    n56, n20 = (len(create_model(n).state_dict()) for n in ("cifar_resnet56", "cifar_resnet20"))
    assert f"{n56 - n20} missing, 0 unexpected, 0 with other shapes" in msg
    assert "missing: layer1.3.conv1.weight" in msg
    assert "it looks like a cifar_resnet20 checkpoint (3 blocks per stage, 10 classes)" in msg
    torch.save(create_model("cifar_resnet56", num_classes=10).state_dict(), tmp_path / "r56.pt")
    with pytest.raises(ValueError, match=r"0 missing, \d+ unexpected.*unexpected: layer1.5.conv1.weight.*"
                       r"looks like a cifar_resnet56 checkpoint \(9 blocks per stage"):
        create_model("cifar_resnet32", num_classes=10, checkpoint=tmp_path / "r56.pt")


def test_wrong_class_count_and_wrong_edgecv_file_are_summarised(tmp_path):
    torch.save(create_model("cifar_resnet20", num_classes=10).state_dict(), tmp_path / "r20.pt")
    with pytest.raises(ValueError, match=r"0 missing, 0 unexpected, 2 with other shapes .*linear.weight \(10, 64\) in "
                       r"the file vs \(7, 64\).*the file has 10 outputs in 'linear': pass that num_classes"):
        create_model("cifar_resnet20", num_classes=7, checkpoint=tmp_path / "r20.pt")
    # an edgecv model file whose weights were swapped for another architecture's
    path = save_model(create_model("cifar_resnet32", num_classes=10), tmp_path / "m.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"] = create_model("cifar_resnet20", num_classes=10).state_dict()
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=r"weights do not match the recorded architecture 'cifar_resnet32': \d+ missing"
                       r".*looks like a cifar_resnet20 checkpoint"):
        load_model(path)


def test_timm_state_dict_in_the_wrong_timm_model_names_it(tmp_path):
    import timm

    torch.save(timm.create_model("mobilenetv3_small_050", num_classes=5).state_dict(), tmp_path / "mb.pt")
    with pytest.raises(ValueError, match="looks like a mobilenetv3_small_050 checkpoint"):
        create_model("mobilenetv2_050", checkpoint=tmp_path / "mb.pt")


class Pickled:  # any Python object: not loadable with weights_only=True
    pass


def test_pickled_object_checkpoint_never_advises_weights_only_false(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"model": Pickled(), "epoch": 3}, path)
    with pytest.raises(ValueError) as e:
        create_model("cifar_resnet20", checkpoint=path)
    msg = str(e.value)
    assert f"cannot read checkpoint {path}: it is not a weights-only checkpoint edgecv can load safely" in msg
    assert "Pickled" in msg and "weights_only" not in msg and "\n" not in msg
    from edgecv.models.factory import read_checkpoint

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError) as e:
        read_checkpoint(tmp_path / "junk.pt")
    assert "weights_only" not in str(e.value) and "junk.pt" in str(e.value)


def _plain_state(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(create_model("cifar_resnet20").state_dict(), path)
    return path
