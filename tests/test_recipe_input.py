"""Hostile or mistyped recipe input gets a one-line answer naming the file and key, quickly."""
import time

import pytest

from edgecv.recipe import RecipeError, apply_overrides, load_recipe

GOOD = """name: tiny
data: {source: digits}
student: {name: cifar_resnet8}
stages:
  - {type: train, model: student, epochs: 2}
  - {type: evaluate}
"""


def _write(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return path


def _alias_bomb(levels: int) -> str:
    """The 'billion laughs' shape: each level holds nine aliases of the one before."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\n{GOOD}".replace("{type: evaluate}", f"{{type: evaluate, x: *a{levels}}}")


def test_alias_expansion_past_the_node_budget_is_refused_at_once(tmp_path):
    path = _write(tmp_path, _alias_bomb(9))  # 9**10 nodes once expanded
    assert len(path.read_bytes()) < 1000
    start = time.process_time()
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert time.process_time() - start < 5  # generous: the budget check is linear in the file
    msg = str(e.value)
    assert str(path) in msg and "alias" in msg and "expand" in msg and len(msg.splitlines()) == 2


def test_a_few_anchors_and_aliases_still_work(tmp_path):
    text = GOOD.replace(
        "  - {type: train, model: student, epochs: 2}", "  - &t {type: train, model: student, epochs: 2}\n  - *t")
    recipe = load_recipe(_write(tmp_path, text))
    assert [s.type for s in recipe.stages] == ["train", "train", "evaluate"]


def test_duplicate_keys_are_refused_naming_the_key_and_lines(tmp_path):
    path = _write(tmp_path, GOOD.replace("epochs: 2}", "epochs: 6, epochs: 1}"))
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    msg = str(e.value)
    assert "duplicate key 'epochs'" in msg and str(path) in msg and "line 5" in msg
    block = _write(tmp_path, GOOD + "name: other\n", "block.yaml")
    with pytest.raises(RecipeError, match=r"duplicate key 'name' on line 7 \(first on line 1\)"):
        load_recipe(block)


def test_set_values_get_the_same_checks():
    bomb = "[" + ", ".join(["&a [x, x, x, x, x, x, x, x, x]"] + ["*a"] * 8) + "]"
    assert apply_overrides({"name": "x"}, [f"name={bomb}"])["name"][0] == ["x"] * 9  # a small alias is fine
    with pytest.raises(RecipeError, match="duplicate key 'a'"):
        apply_overrides({"name": "x"}, ["name={a: 1, a: 2}"])


def test_non_utf8_recipe_names_the_file(tmp_path):
    path = _write(tmp_path, b"name: caf\xe9\n" + GOOD.encode()[10:])
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    msg = str(e.value)
    assert str(path) in msg and "UTF-8" in msg and "line 1" in msg


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "..", "x\\y", "a" * 300, ""])
def test_the_name_is_never_a_path(tmp_path, name):
    path = _write(tmp_path, GOOD)
    with pytest.raises(RecipeError, match=r"name: .*(separator|'\.\.'|characters|empty)"):
        load_recipe(path, [f"name={name}"])


def test_set_with_an_empty_key_says_so(tmp_path):
    with pytest.raises(RecipeError, match=r"--set '=3': the key is empty"):
        load_recipe(_write(tmp_path, GOOD), ["=3"])


def test_a_problem_at_a_key_set_from_the_command_line_names_the_set(tmp_path):
    with pytest.raises(RecipeError) as e:
        load_recipe(_write(tmp_path, GOOD), ["stages.-1.epochs=1"])
    assert "stages.1.epochs (--set stages.-1.epochs): unknown key" in str(e.value)
