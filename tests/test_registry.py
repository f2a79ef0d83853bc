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
