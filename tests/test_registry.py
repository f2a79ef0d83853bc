import pytest

from edgecv.registry import Registry


def test_get_unknown_suggests_close_name():
    reg = Registry("widget")
    reg.register("mobilenet", object())
    with pytest.raises(KeyError, match="did you mean 'mobilenet'"):
        reg.get("mobilenett")


def test_register_decorator_and_duplicate():
    reg = Registry("thing")

    @reg.register("a")
    def a():
        return 1

    assert reg.get("a") is a and reg.names() == ["a"] and "a" in reg
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", lambda: 2)


def test_unregister_and_temporarily():
    reg = Registry("thing")
    keep, tmp = object(), object()
    reg.register("keep", keep)
    with reg.temporarily("tmp", tmp) as got:
        assert got is tmp and reg.get("tmp") is tmp and reg.names() == ["keep", "tmp"]
    assert "tmp" not in reg and reg.names() == ["keep"]
    with pytest.raises(RuntimeError):
        with reg.temporarily("tmp", tmp):
            raise RuntimeError("boom")
    assert "tmp" not in reg  # removed on error too
    with pytest.raises(ValueError, match="registered twice"):
        with reg.temporarily("keep", tmp):
            pass
    assert reg.get("keep") is keep  # a clash never removes the original
    assert reg.unregister("keep") is keep and reg.names() == []
    with pytest.raises(KeyError, match="nothing to unregister"):
        reg.unregister("keep")


def test_plugins_are_loaded_on_the_first_look_up_whatever_was_imported(tmp_path, monkeypatch):
    """A registry names its plugin modules (a package.* wildcard: every module there) and imports them once,
    on its first look-up; a plugin looking the registry up while it registers sees it as it is."""
    pkg = tmp_path / "plugpkg"
    (pkg / "extras").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from edgecv.registry import Registry\n"
                                     "REG = Registry('gadget', plugins=['plugpkg.one', 'plugpkg.extras.*'])\n")
    (pkg / "one.py").write_text("from plugpkg import REG\nREG.register('one', 1)\nSEEN = REG.names()\n")
    (pkg / "extras" / "__init__.py").write_text("")
    (pkg / "extras" / "two.py").write_text("from plugpkg import REG\nREG.register('two', 2)\n")
    (pkg / "extras" / "_private.py").write_text("raise RuntimeError('not a plugin')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import plugpkg

    assert "plugpkg.one" not in __import__("sys").modules  # nothing loaded until asked
    assert plugpkg.REG.names() == ["one", "two"] and plugpkg.REG.get("two") == 2
    assert __import__("sys").modules["plugpkg.one"].SEEN == ["one"]


def test_the_plugins_a_process_needs_load_in_one_place():
    """edgecv.plugins names what higher layers attach to lower ones; every registry fills itself."""
    from edgecv.backends import BACKENDS
    from edgecv.models import CHECKPOINT_EXTENSIONS
    from edgecv.plugins import load_plugins, registries

    load_plugins(everything=True)
    assert "pruning" in CHECKPOINT_EXTENSIONS and not BACKENDS.get("onnxruntime").buildable()["int8"]
    found = {kind: reg.names() for kind, reg in registries().items()}
    assert {"onnxruntime", "tflite", "torch", "tensorrt"} <= set(found["backend"])
    assert {"train", "distill", "evaluate", "export", "benchmark", "prune", "quantize"} == set(found["stage"])
    assert {"kd", "hint"} <= set(found["distillation loss"]) and {"l1", "l2", "bn", "taylor"} <= set(found["importance"])


def test_save_model_refuses_state_whose_extension_is_not_loaded(tmp_path):
    from edgecv.models import create_model, save_model

    model = create_model("cifar_resnet8", num_classes=3)
    model.edgecv_sparsity = {"kept": [1, 2]}  # a higher layer's state, with no extension to save it
    with pytest.raises(ValueError, match="edgecv_sparsity.*checkpoint extension is not loaded"):
        save_model(model, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
