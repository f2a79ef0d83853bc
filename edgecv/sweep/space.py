"""The search space: `key.path=v1,v2` (a grid, or a choice) and `key.path=low:high[:log]` (a range),
parsed and checked against the recipe schema before any trial runs.

A key is any recipe key `--set` accepts (`stages.1.epochs`, `stages.distill.epochs`,
`stages.distill.losses.0.temperature`). Values are read as YAML scalars, as `--set` reads them. A
range samples floats, or integers where the schema takes only whole numbers and both ends are whole
(`stages.distill.epochs=2:8`); `:log` samples on a log scale and needs low > 0.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import SweepError

CHOICE, INT, FLOAT = "choice", "int", "float"


@dataclass(frozen=True)
class Dim:
    """One swept key: a list of choices, or an int/float range."""

    key: str
    kind: str
    choices: tuple = ()
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    flag: str = "--grid"  # where it came from, for messages

    def candidates(self) -> list:
        """The values checked against the schema before the sweep starts: every choice, or both ends."""
        return list(self.choices) if self.kind == CHOICE else [self.low, self.high]

    def distribution(self):
        from .errors import import_optuna

        d = import_optuna().distributions
        if self.kind == CHOICE:
            return d.CategoricalDistribution(list(self.choices))
        cls = d.IntDistribution if self.kind == INT else d.FloatDistribution
        return cls(self.low, self.high, log=self.log)

    def suggest(self, trial) -> Any:
        """Optuna's suggestion for this key on `trial` (the planned value for grid and random trials)."""
        if self.kind == CHOICE:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == INT:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)

    def text(self) -> str:
        if self.kind == CHOICE:
            return f"{self.key}={','.join(format_value(v) for v in self.choices)}"
        return f"{self.key}={format_value(self.low)}:{format_value(self.high)}{':log' if self.log else ''}"

    def to_json(self) -> dict:
        return {"key": self.key, "kind": self.kind, "choices": list(self.choices), "low": self.low, "high": self.high,
                "log": self.log, "flag": self.flag}

    @classmethod
    def from_json(cls, d: dict) -> "Dim":
        return cls(d["key"], d["kind"], tuple(d.get("choices") or ()), d.get("low"), d.get("high"), bool(d.get("log")),
                   d.get("flag", "--grid"))


def parse_grid(text: str) -> Dim:
    """`key.path=v1,v2,...`: the grid's values for one key (a single value is allowed: it is fixed)."""
    key, rest = _split(text, "--grid", "key.path=v1,v2,...")
    return Dim(key, CHOICE, _choices(rest, text, "--grid"), flag="--grid")


def parse_space(text: str) -> Dim:
    """`key.path=low:high[:log]` (a range) or `key.path=v1,v2,...` (a choice) for --random/--tpe."""
    key, rest = _split(text, "--space", "key.path=low:high[:log] or key.path=v1,v2,...")
    if ":" not in rest:
        choices = _choices(rest, text, "--space")
        if len(choices) < 2:
            raise SweepError(f"--space {text}: a range is low:high[:log] and a choice needs two values or more "
                             "(v1,v2,...); fix a single value with --set")
        return Dim(key, CHOICE, choices, flag="--space")
    parts = rest.split(":")
    log = False
    if len(parts) == 3 and parts[2].strip().lower() == "log":
        log, parts = True, parts[:2]
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise SweepError(f"--space {text}: expected key.path=low:high or key.path=low:high:log")
    low, high = (_number(p.strip(), text) for p in parts)
    kind = INT if isinstance(low, int) and isinstance(high, int) else FLOAT
    if kind == FLOAT:
        low, high = float(low), float(high)
    if not low < high:
        raise SweepError(f"--space {text}: low must be below high (got {format_value(low)} and {format_value(high)})")
    if log and low <= 0:
        raise SweepError(f"--space {text}: a log range needs low > 0 (got {format_value(low)})")
    return Dim(key, kind, low=low, high=high, log=log, flag="--space")


def check_unique(dims: Sequence[Dim]) -> None:
    seen: dict[str, Dim] = {}
    for d in dims:
        if d.key in seen:
            raise SweepError(f"{d.flag} {d.key}: the key is given twice; give each key once")
        seen[d.key] = d


def grid_points(dims: Sequence[Dim]) -> list[dict[str, Any]]:
    """The Cartesian product of the choices, first key slowest: [{key: value, ...}, ...]."""
    keys = [d.key for d in dims]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(d.choices for d in dims))]


def overrides_for(params: dict[str, Any]) -> list[str]:
    """`--set` strings for a trial's parameter values (each reads back as the same value)."""
    return [f"{k}={format_value(v)}" for k, v in params.items()]


def format_value(v: Any) -> str:
    """`v` as `--set` text that YAML reads back as `v` (floats always with a '.', strings quoted if needed)."""
    import yaml

    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        text = repr(v)
        mantissa, e, exp = text.partition("e")
        if e and "." not in mantissa:  # PyYAML reads 1e-05 as a string; 1.0e-05 is a float
            text = f"{mantissa}.0e{exp}"
        return text
    if isinstance(v, str):
        try:
            if v and yaml.safe_load(v) == v and "," not in v:
                return v
        except yaml.YAMLError:
            pass
        return json.dumps(v)
    return json.dumps(v)


def validate_dims(recipe_path: str | Path, sets: Sequence[str], dims: Sequence[Dim]):
    """Build the recipe with each candidate value of each key (every choice, both ends of a range) and
    check what `edgecv run` checks; the first problem is raised as one line. A range with whole-number
    ends samples integers only where the schema refuses a fraction (epochs: 1:5), floats otherwise
    (alpha: 0:1). Returns (the base Recipe, the dims as they will be sampled)."""
    from ..recipe import RecipeError, check_recipe_resources, load_recipe

    try:
        base = load_recipe(recipe_path, list(sets))
    except RecipeError as e:
        raise SweepError(f"{e.source}: {'; '.join(e.problems)}") from None
    problems = check_recipe_resources(base)
    if problems:
        raise SweepError(f"{base.source}: {'; '.join(problems)}")
    if not dims:
        raise SweepError("nothing to sweep: give --grid key.path=v1,v2 or --space key.path=low:high")
    check_unique(dims)
    dims = [_schema_kind(recipe_path, sets, d) for d in dims]
    for dim in dims:
        for value in dim.candidates():
            item = f"{dim.key}={format_value(value)}"
            try:
                recipe = load_recipe(recipe_path, [*sets, item])
            except RecipeError as e:
                raise SweepError(_schema_message(dim, item, e.problems)) from None
            problems = check_recipe_resources(recipe)
            if problems:
                raise SweepError(f"{dim.flag} {item}: {'; '.join(problems)}")
    return base, dims


def _schema_kind(recipe_path, sets, dim: Dim) -> Dim:
    """An int range stays one if the schema refuses a fraction inside it; else it becomes a float range."""
    from dataclasses import replace

    from ..recipe import RecipeError, load_recipe

    if dim.kind != INT:
        return dim
    probe = dim.low + 0.5  # inside the range (high >= low + 1), never a whole number
    try:
        load_recipe(recipe_path, [*sets, f"{dim.key}={format_value(float(probe))}"])
    except RecipeError:
        return dim
    return replace(dim, kind=FLOAT, low=float(dim.low), high=float(dim.high))


def _schema_message(dim: Dim, item: str, problems: list[str]) -> str:
    text = "; ".join(p.replace(f"--set {dim.key}: ", "") for p in problems)
    if any(w in text for w in ("unknown key", "no stage of type", "several stages of type", "is not a section",
                               "out of range", "Extra inputs are not permitted")):
        return f"{dim.flag} {dim.key}: not a key of this recipe's schema: {text}"
    return f"{dim.flag} {item}: the recipe schema rejects this value: {text}"


def _split(text: str, flag: str, form: str) -> tuple[str, str]:
    if "=" not in text:
        raise SweepError(f"{flag} {text!r}: expected {form}")
    key, rest = text.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise SweepError(f"{flag} {text!r}: expected {form}")
    return key, rest.strip()


def _choices(rest: str, text: str, flag: str) -> tuple:
    if not rest:
        raise SweepError(f"{flag} {text}: empty grid: no values after '=' (expected key.path=v1,v2,...)")
    if rest[0] in "[{":
        raise SweepError(f"{flag} {text}: {rest!r} is not a single value (lists and mappings cannot be swept; "
                         "values are comma-separated: key.path=v1,v2)")
    items = [p.strip() for p in rest.split(",")]
    if any(not p for p in items):
        raise SweepError(f"{flag} {text}: an empty value in the list (expected key.path=v1,v2,...)")
    values = tuple(_scalar(p, text, flag) for p in items)
    if len(set(map(_key, values))) != len(values):
        raise SweepError(f"{flag} {text}: a value is listed twice")
    return values


def _key(v: Any) -> tuple:
    return (type(v).__name__, v)


def _scalar(item: str, text: str, flag: str) -> Any:
    import yaml

    try:
        v = yaml.safe_load(item)
    except yaml.YAMLError:
        v = item
    if isinstance(v, str):
        try:
            return float(v) if v.strip().lower() not in ("nan", "inf", "-inf", "infinity") else v
        except ValueError:
            return v
    if v is None or isinstance(v, (bool, int, float)):
        return v
    raise SweepError(f"{flag} {text}: {item!r} is not a single value (lists and mappings cannot be swept)")


def _number(item: str, text: str) -> int | float:
    try:
        return int(item)
    except ValueError:
        pass
    try:
        v = float(item)
    except ValueError:
        raise SweepError(f"--space {text}: {item!r} is not a number") from None
    if not math.isfinite(v):
        raise SweepError(f"--space {text}: the ends of a range must be finite numbers")
    return v

