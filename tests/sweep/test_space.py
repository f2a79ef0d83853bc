"""Parsing `key.path=...` and checking it against the recipe schema before anything runs."""
from __future__ import annotations

import pytest
import yaml

from edgecv.recipe import load_recipe
from edgecv.sweep import SweepError
from edgecv.sweep.space import CHOICE, FLOAT, INT, format_value, grid_points, parse_grid, parse_space, validate_dims

from .conftest import TINY


def test_grid_expansion_is_every_combination_first_key_slowest():
    dims = [parse_grid("stages.distill.losses.0.temperature=2,4,8"), parse_grid("stages.prune.importance=l1,taylor")]
    points = grid_points(dims)
    assert len(points) == 6
    assert points[0] == {"stages.distill.losses.0.temperature": 2, "stages.prune.importance": "l1"}
    assert points[1] == {"stages.distill.losses.0.temperature": 2, "stages.prune.importance": "taylor"}
    assert points[-1] == {"stages.distill.losses.0.temperature": 8, "stages.prune.importance": "taylor"}
    assert len({tuple(p.values()) for p in points}) == 6


def test_grid_values_are_read_as_set_reads_them():
    d = parse_grid("x.y=1, 2.5 ,1e-3,true,null,l1")
    assert d.kind == CHOICE and d.choices == (1, 2.5, 0.001, True, None, "l1")
    assert [type(v) for v in d.choices[:3]] == [int, float, float]


@pytest.mark.parametrize("text, kind, low, high, log", [
    ("a.b=1:8", INT, 1, 8, False),
    ("a.b=0.5:2:log", FLOAT, 0.5, 2.0, True),
    ("a.b=1:8.0", FLOAT, 1.0, 8.0, False),
    ("a.b = 1e-4:1e-1:LOG", FLOAT, 1e-4, 0.1, True),
])
def test_space_ranges(text, kind, low, high, log):
    d = parse_space(text)
    assert (d.kind, d.low, d.high, d.log) == (kind, low, high, log)


def test_space_choice():
    d = parse_space("stages.prune.importance=l1,l2,taylor")
    assert d.kind == CHOICE and d.choices == ("l1", "l2", "taylor")


@pytest.mark.parametrize("text, message", [
    ("a.b=", "empty grid"),
    ("a.b", "expected key.path=v1,v2"),
    ("=1,2", "expected key.path=v1,v2"),
    ("a..b=1", "expected key.path=v1,v2"),
    ("a.b=1,,2", "an empty value"),
    ("a.b=1,1", "listed twice"),
    ("a.b=[1, 2]", "not a single value"),
])
def test_bad_grid(text, message):
    with pytest.raises(SweepError, match=message.replace("[", r"\[")):
        parse_grid(text)


@pytest.mark.parametrize("text, message", [
    ("a.b=3:1", "low must be below high"),
    ("a.b=0:1:log", "needs low > 0"),
    ("a.b=x:1", "'x' is not a number"),
    ("a.b=1:2:3", "expected key.path=low:high"),
    ("a.b=0.1", "a choice needs two values"),
    ("a.b=1:inf", "finite"),
])
def test_bad_space(text, message):
    with pytest.raises(SweepError, match=message):
        parse_space(text)


@pytest.mark.parametrize("value", [0.1, 1e-05, 2.5e-300, 3.0, 7, True, False, None, "l1", "yes", "1.5", "a,b", "",
                                   float("inf")])
def test_format_value_reads_back_as_the_same_value(value):
    text = format_value(value)
    assert yaml.safe_load(text) == value and type(yaml.safe_load(text)) is type(value)


def test_a_loss_setting_inside_a_list_is_a_key_path():
    """`stages.distill.losses.0.temperature` (a list index inside a stage) reaches the KD loss's settings."""
    r = load_recipe(TINY, ["stages.distill.losses.0.temperature=2.5", "stages.distill.losses.kd.alpha=0.25"])
    assert r.stages[1].config.losses[0]["temperature"] == 2.5
    assert r.stages[1].config.losses[0]["alpha"] == 0.25


def test_a_range_samples_integers_only_where_the_schema_wants_them():
    _, dims = validate_dims(TINY, [], [parse_space("stages.distill.epochs=1:3"),
                                       parse_space("stages.distill.losses.0.alpha=0:1")])
    assert dims[0].kind == INT and (dims[0].low, dims[0].high) == (1, 3)
    assert dims[1].kind == FLOAT and (dims[1].low, dims[1].high) == (0.0, 1.0)


@pytest.mark.parametrize("spec, message", [
    ("--grid data.bach_size=16,32", "--grid data.bach_size: not a key of this recipe's schema: data.bach_size: unknown key "
                                    "(did you mean 'batch_size'?)"),
    ("--grid stages.distill.losses.0.temprature=2,4", "not a key of this recipe's schema"),
    ("--grid stages.prune.macs_ratio=0.5", "not a key of this recipe's schema: no stage of type 'prune'"),
    ("--grid stages.7.epochs=1", "not a key of this recipe's schema: index 7 out of range"),
    ("--grid stages.distill.epochs=2,-1", "--grid stages.distill.epochs=-1: the recipe schema rejects this value: "
                                          "stages.1.epochs"),
    ("--space stages.distill.losses.0.alpha=0.5:2", "stages.distill.losses.0.alpha=2.0: the recipe schema rejects this value"),
    ("--grid student.name=cifar_resnet8,no_such_net", "student.name: unknown model 'no_such_net'"),
])
def test_keys_and_values_are_checked_against_the_schema(spec, message):
    flag, text = spec.split(" ", 1)
    dim = parse_grid(text) if flag == "--grid" else parse_space(text)
    with pytest.raises(SweepError) as e:
        validate_dims(TINY, [], [dim])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_key_given_twice_is_refused():
    with pytest.raises(SweepError, match="given twice"):
        validate_dims(TINY, [], [parse_grid("stages.distill.epochs=1"), parse_grid("stages.distill.epochs=2")])
