"""Recipes: YAML in, validated data out; nothing in a recipe is executed.

Every key is checked before any stage runs. An unknown key is an error naming its path with a
did-you-mean suggestion; `--set key.path=value` overrides any key (`stages.1.epochs=3`, or
`stages.distill.epochs=3` when one stage has that type).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .data.spec import DataSpec
from .models.spec import ENSEMBLE, ModelSpec
from .registry import did_you_mean


class RecipeError(ValueError):
    """A recipe problem; `problems` lists one 'key.path: message' per issue found."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"invalid recipe {source}:\n" + "\n".join(f"  - {p}" for p in problems))


class RecipeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "run"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataSpec = DataSpec()
    teacher: Optional[ModelSpec] = None
    teachers: list[ModelSpec] = Field(default_factory=list, description="more teachers for multi-teacher KD")
    student: ModelSpec
    stages: list[dict[str, Any]] = Field(..., min_length=1)

    @field_validator("name")
    @classmethod
    def _name_is_not_a_path(cls, name: str) -> str:
        return check_run_name(name)


MAX_NAME = 100  # a run folder is '<name>-<time>': well inside any file system's 255-byte name limit


def check_run_name(name: str) -> str:
    """The recipe's `name` names its run folder (<runs>/<name>-<time>), so it must be one plain folder
    name: never a path that could write elsewhere."""
    if not name.strip():
        raise ValueError("must not be empty: it names the run folder")
    if "/" in name or "\\" in name:
        raise ValueError("must not contain a path separator ('/' or '\\'): it names the run folder, e.g. my-run")
    if name in (".", "..") or name.startswith(".."):
        raise ValueError("must not be '.' or start with '..': it names the run folder, e.g. my-run")
    if len(name) > MAX_NAME:
        raise ValueError(f"is {len(name)} characters; at most {MAX_NAME} (it names the run folder)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("must not contain control characters: it names the run folder")
    return name


@dataclass
class Stage:
    type: str
    config: BaseModel
    index: int

    @property
    def label(self) -> str:
        return f"{self.index}_{self.type}"


@dataclass
class Recipe:
    body: RecipeBody
    stages: list[Stage]
    raw: dict[str, Any]
    source: str = "<dict>"

    def __getattr__(self, item):  # recipe.data, recipe.student, ... read through to the body
        return getattr(self.body, item)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe not found: {path}")
    raw = read_recipe_file(path)
    if not isinstance(raw, dict):
        raise RecipeError(str(path), ["the top level must be a mapping of keys (name, data, student, stages, ...)"])
    origins: dict[str, str] = {}
    raw = apply_overrides(raw, overrides or [], str(path), origins)
    _resolve_paths(raw, path.parent)
    try:
        return validate_recipe(raw, str(path))
    except RecipeError as e:
        raise RecipeError(e.source, [_name_the_set(p, origins) for p in e.problems]) from None


def read_recipe_file(path: Path) -> Any:
    """The YAML of `path` (safe types only; aliases bounded, duplicate keys refused), or a RecipeError
    naming the file and line."""
    from .utils import strict_yaml

    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RecipeError(str(path), [f"not UTF-8 text: byte 0x{data[e.start]:02x} on line {line}; save the file as UTF-8"]) from None
    try:
        return strict_yaml.load(text)
    except strict_yaml.YamlRefused as e:
        raise RecipeError(str(path), [str(e)]) from None
    except yaml.YAMLError as e:
        raise RecipeError(str(path), [f"not valid YAML: {e}"]) from None


def _name_the_set(problem: str, origins: dict[str, str]) -> str:
    """'stages.5.epochs: ...' -> 'stages.5.epochs (--set stages.-1.epochs): ...' where --set wrote that
    key under another spelling (a negative index, a stage's type): the user sees the key they typed."""
    for canonical, typed in origins.items():
        if canonical != typed and (problem.startswith(canonical + ":") or problem.startswith(canonical + ".")):
            path, rest = problem.split(":", 1)
            return f"{path} (--set {typed}{path[len(canonical):]}):{rest}"
    return problem


def validate_recipe(raw: dict[str, Any], source: str = "<dict>") -> Recipe:
    from .stages import STAGES

    problems: list[str] = []
    body = None
    try:
        body = RecipeBody.model_validate(raw)
    except ValidationError as e:
        problems += _format_errors(e, RecipeBody, ())
    stages: list[Stage] = []
    raw_stages = raw.get("stages") if isinstance(raw.get("stages"), list) else []
    for i, st in enumerate(raw_stages):
        where = f"stages.{i}"
        if not isinstance(st, dict) or "type" not in st:
            problems.append(f"{where}: each stage needs a `type` ({', '.join(STAGES.names())})")
            continue
        kind = st["type"]
        if kind not in STAGES:
            problems.append(
                f"{where}.type: unknown stage '{kind}'{did_you_mean(kind, STAGES.names())}; "
                f"known: {', '.join(STAGES.names())}"
            )
            continue
        cfg_cls = STAGES.get(kind).config
        try:
            cfg = cfg_cls.model_validate({k: v for k, v in st.items() if k != "type"})
            stages.append(Stage(kind, cfg, i))
        except ValidationError as e:
            problems += _format_errors(e, cfg_cls, ("stages", i))
    if body is not None and body.student.name == ENSEMBLE:
        problems.append(f"student.name: an {ENSEMBLE} is a teacher (teacher: or teachers:); the student is one model "
                        "distilled from it")
    if body is not None and not problems:
        problems += _role_problems(body, stages)
    if problems:
        raise RecipeError(source, problems)
    return Recipe(body, stages, raw, source)


def _role_problems(body: RecipeBody, stages: list[Stage]) -> list[str]:
    """Every role a stage reads exists by the time it runs (a later `into:` does not count)."""
    roles = ["student", *(["teacher"] if body.teacher else []), *(f"teacher{i}" for i in range(1, len(body.teachers) + 1))]
    problems = []
    for st in stages:
        for key, role in st.config.roles_used():
            if role not in roles:
                problems.append(f"stages.{st.index}.{key}: no model with role '{role}' at this stage{did_you_mean(role, roles)}; "
                                f"the run has {', '.join(roles)} by then")
        roles += [r for r in st.config.roles_made() if r not in roles]
    return problems


def apply_overrides(raw: dict, overrides: list[str], source: str = "<recipe>", origins: dict[str, str] | None = None) -> dict:
    """`raw` with each 'key.path=value' applied (values read as YAML). `origins`, when given, gets
    {the key path as stored (indices resolved): the key as typed}."""
    from .utils import strict_yaml

    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise RecipeError(source, [f"--set {item!r}: expected key.path=value"])
        key, value = item.split("=", 1)
        key = key.strip()
        if not key or "" in key.split("."):
            raise RecipeError(source, [f"--set {item!r}: the key is {'empty' if not key else 'missing a part'}; "
                                       "expected key.path=value, e.g. stages.0.epochs=2"])
        try:
            parsed = strict_yaml.load(value) if value != "" else ""
        except strict_yaml.YamlRefused as e:
            raise RecipeError(source, [f"--set {key}: {e}"]) from None
        except yaml.YAMLError:
            parsed = value
        canonical = _set_path(raw, key.split("."), parsed, source, key)
        if origins is not None:
            origins[canonical] = key
    return raw


def _set_path(node: Any, parts: list[str], value: Any, source: str, key: str) -> str:
    """Set the value; returns the key path as stored (list indices resolved to 0..n-1)."""
    stored = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            idx = _list_index(node, part, source, key)
            stored.append(str(idx))
            if last:
                node[idx] = value
                break
            node = node[idx]
        elif isinstance(node, dict):
            stored.append(part)
            if last:
                node[part] = value
                break
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        else:
            raise RecipeError(source, [f"--set {key}: '{'.'.join(parts[:depth])}' is not a section"])
    return ".".join(stored)


def _list_index(node: list, part: str, source: str, key: str) -> int:
    if part.lstrip("-").isdigit():
        idx = int(part)
        if not -len(node) <= idx < len(node):
            raise RecipeError(source, [f"--set {key}: index {idx} out of range (0..{len(node) - 1})"])
        return idx % len(node)
    hits = [i for i, s in enumerate(node) if isinstance(s, dict) and part in (s.get("type"), s.get("name"))]
    if len(hits) != 1:
        why = "no stage" if not hits else "several stages"
        raise RecipeError(source, [f"--set {key}: {why} of type '{part}'; use its index instead"])
    return hits[0]


def flatten_recipe(raw: Any, prefix: str = "") -> dict[str, Any]:
    """{'stages.1.epochs': 8, 'data.augment.crop': 'pad_crop', ...}: one entry per leaf (list items by index).
    Values are JSON-normalised (tuples -> lists, paths -> strings), as recipe.json stores them."""
    import json

    def walk(node: Any, path: str, out: dict[str, Any]) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k), out)
        elif isinstance(node, list) and node:
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}" if path else str(i), out)
        else:
            out[path or "(top level)"] = node

    flat: dict[str, Any] = {}
    walk(json.loads(json.dumps(raw, default=str)), prefix, flat)
    return flat


def recipe_fingerprint(raw: dict[str, Any]) -> dict[str, Any]:
    """What a run folder records of its resolved recipe (after --set and path resolution):
    {'sha256': hash of the canonical JSON, 'flat': flatten_recipe(raw)}."""
    import hashlib
    import json

    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return {"sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(), "flat": flatten_recipe(raw)}


def recipe_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'key: old -> new' for every flattened key whose value differs ('(unset)' where a key is absent)."""
    unset = object()
    out = []
    for key in sorted(set(old) | set(new), key=_natural_key):
        a, b = old.get(key, unset), new.get(key, unset)
        if a != b:
            limit = 1000 if key.rsplit(".", 1)[-1] in PATH_KEYS else 60  # a clipped path hides what changed
            show = lambda v: "(unset)" if v is unset else json_short(v, limit)  # noqa: E731
            out.append(f"{key}: {show(a)} -> {show(b)}")
    return out


def json_short(v: Any, limit: int = 60) -> str:
    import json

    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _natural_key(key: str) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in key.split(".")]


def check_recipe_resources(recipe: Recipe) -> list[str]:
    """What `run` would fail on that the schema cannot see, as 'key.path: message' problems (empty
    when all is well): unknown model names, missing checkpoint files, missing data folders and files.
    `edgecv validate` and `run` both call this before anything runs."""
    problems: list[str] = []
    specs = [("teacher", recipe.teacher)] + [(f"teachers.{i}", s) for i, s in enumerate(recipe.teachers)]
    for where, spec in [*specs, ("student", recipe.student)]:
        if spec is not None:
            problems += _model_problems(where, spec)
    data = recipe.data
    if data.source == "imagefolder":
        dirs = {"train_dir": data.train_dir or (str(Path(data.root) / "train") if data.root else None),
                "val_dir": data.val_dir or (str(Path(data.root) / "val") if data.root else None)}
        if data.root and not Path(data.root).is_dir():
            problems.append(f"data.root: folder not found: {data.root}")
        elif not all(dirs.values()):
            problems.append("data.root: source 'imagefolder' needs data.root (with train/ and val/) "
                            "or data.train_dir and data.val_dir")
        else:
            for key, d in dirs.items():
                if not Path(d).is_dir():
                    own = getattr(data, key)
                    where = f"data.{key}" if own else "data.root"
                    problems.append(f"{where}: folder not found: {d}" + ("" if own else f" (expected {key.split('_')[0]}/ inside the root)"))
    elif data.source == "cifar10" and not data.download:
        if not data.root:
            problems.append("data.root: source 'cifar10' needs data.root (the folder holding cifar-10-batches-py)")
        elif not Path(data.root).is_dir():
            problems.append(f"data.root: folder not found: {data.root} (set data.download: true on a machine with a network)")
    stages = recipe.raw.get("stages") if isinstance(recipe.raw.get("stages"), list) else []
    for i, st in enumerate(stages):
        for key in sorted({"calib_data", "val_data", "data_dir", "class_names"} & set(st if isinstance(st, dict) else ())):
            value = st[key]
            if isinstance(value, str) and value and not Path(value).exists():
                problems.append(f"stages.{i}.{key}: not found: {value}")
    problems += _backend_problems(recipe)
    return problems


def _model_problems(where: str, spec: ModelSpec) -> list[str]:
    """An unknown model name or a missing checkpoint, at `where` (an ensemble's members at where.members.i),
    and ensemble members that cannot be averaged (checked on the meta device: no weights are loaded)."""
    from .models import model_exists, model_names

    problems = []
    if spec.name == ENSEMBLE:
        for i, member in enumerate(spec.members):
            problems += _model_problems(f"{where}.members.{i}", member)
    elif not model_exists(spec.name):
        problems.append(f"{where}.name: unknown model '{spec.name}'{did_you_mean(spec.name, model_names())}; "
                        "any timm model name, cifar_resnet8/14/20/32/44/56, squeezenet1_0/1_1 or ensemble (with members) works")
    if spec.checkpoint and not Path(spec.checkpoint).is_file():
        problems.append(f"{where}.checkpoint: file not found: {spec.checkpoint}")
    if spec.name == ENSEMBLE and not problems:
        problems += _ensemble_problems(where, spec)
    return problems


def _ensemble_problems(where: str, spec: ModelSpec) -> list[str]:
    """Members that cannot be averaged (another input normalisation), found by building the ensemble's
    architecture on the meta device: no weights are read. Members without num_classes get the data's
    count at run time, so here they get the one count the recipe names (the schema checks they agree)."""
    import torch

    from .models import create_model
    from .models.ensemble import member_mismatch

    n = spec.num_classes or next((m.num_classes for m in spec.members if m.num_classes), None) or 10
    try:
        with torch.device("meta"):
            members = [create_model(**{**_architecture(m), **m.kwargs, "num_classes": m.num_classes or n})
                       for m in spec.members]
    except ValueError as e:  # e.g. a nested ensemble's own mismatch: building it for the run fails the same way
        return [f"{where}.members: {e}"]
    except Exception:  # a model that cannot be probed on the meta device: its real build will say
        return []
    problem = member_mismatch(members)
    return [f"{where}.members: {problem}"] if problem else []


def _architecture(spec: ModelSpec) -> dict:
    """A member's spec without its weights (checkpoint, pretrained), nested members likewise."""
    out = spec.model_dump(exclude={"checkpoint", "pretrained", "members", "kwargs"}, exclude_defaults=True)
    if spec.members:
        out["members"] = [{**_architecture(m), "kwargs": m.kwargs} for m in spec.members]
    return out


def _backend_problems(recipe: Recipe) -> list[str]:
    """A stage that must time on a backend (prune's per-step latency or latency target) needs it
    installed: say so now, not after the training before it."""
    from .backends import BACKENDS, resolve_backend
    from .stages.prune import PruneStage

    problems = []
    for st in recipe.stages:
        if not isinstance(st.config, PruneStage):
            continue
        spec = st.config.prune
        if not (spec.measure_latency or spec.latency_target):
            continue
        try:
            backend = BACKENDS.get(resolve_backend(spec.backend))
        except KeyError as e:
            problems.append(f"stages.{st.index}.backend: {e.args[0]}")
            continue
        ok, why = backend.available()
        if not ok:
            problems.append(f"stages.{st.index}.backend: '{spec.backend}' is not available here ({why}); the prune stage "
                            "times every step on it: install it, choose another backend, or set measure_latency: false")
    return problems


# Keys whose values are file paths. A relative one is tried against the current directory first, then
# against the recipe's folder, and stored absolute: the run folder records which data it was made from,
# whatever folder `run` or `--resume` is started in.
PATH_KEYS = {"checkpoint", "root", "train_dir", "val_dir", "calib_data", "val_data", "data_dir", "class_names"}


def recipe_paths(raw: dict[str, Any]) -> dict[str, str]:
    """{'data.root': '/abs/data', 'stages.3.calib_data': ...}: every path value of a resolved recipe."""
    return {k: v for k, v in flatten_recipe(raw).items()
            if k.rsplit(".", 1)[-1] in PATH_KEYS and isinstance(v, str) and v}


def _resolve_paths(node: Any, recipe_dir: Path) -> None:
    import os

    if isinstance(node, dict):
        for k, v in node.items():
            if k in PATH_KEYS and isinstance(v, str) and v:
                here = Path(v).expanduser()
                if here.is_absolute() or here.exists():
                    node[k] = os.path.abspath(here)
                elif (recipe_dir / here).exists():
                    node[k] = os.path.abspath(recipe_dir / here)
            else:
                _resolve_paths(v, recipe_dir)
    elif isinstance(node, list):
        for v in node:
            _resolve_paths(v, recipe_dir)


def _format_errors(err: ValidationError, root: type[BaseModel], prefix: tuple) -> list[str]:
    out = []
    for e in err.errors():
        inner, model = tuple(e["loc"]), root
        spec_field = getattr(root, "spec_field", None)  # a stage config: its spec's keys sit flat in the recipe
        if spec_field and inner[:1] == (spec_field,):
            inner, model = inner[1:], root.spec_class()
        loc = prefix + inner
        path = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            fields = root.flat_fields() if spec_field and model is root and len(inner) == 1 else _fields_at(model, inner[:-1])
            hint = did_you_mean(str(loc[-1]), fields)
            out.append(f"{path}: unknown key{hint}; allowed here: {', '.join(sorted(fields))}")
        elif e["type"] == "missing":
            out.append(f"{path}: required key is missing")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            out.append(f"{path}: {e['msg']}{shown}")
    return out


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) pydantic model found by following `loc` from `model`."""
    import typing

    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)) or part not in cur.model_fields:
            return []
        ann = cur.model_fields[part].annotation
        for _ in range(3):  # unwrap Optional[...] and list[...]
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if isinstance(ann, type) and issubclass(ann, BaseModel) or not args:
                break
            ann = args[0]
        cur = ann
    return list(cur.model_fields) if isinstance(cur, type) and issubclass(cur, BaseModel) else []
