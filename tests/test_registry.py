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
