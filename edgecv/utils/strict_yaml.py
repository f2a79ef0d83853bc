"""YAML a person wrote, read as `yaml.safe_load` reads it, minus two traps.

- Aliases: `&a [...]` then nine `*a` per level is a few hundred bytes that expands to billions of
  values ("billion laughs"); safe_load shares the objects, but everything that walks the result
  (validation, hashing, JSON) pays for every copy. A document whose aliases expand past
  MAX_NODES values is refused; the count is linear in the file, however deep the aliases go.
- Duplicate keys: `{epochs: 6, epochs: 1}` silently keeps the last one. Refused, naming the key
  and both lines. Merge keys (`<<: *base`) still let a mapping override what it merges.

Errors are `YamlRefused` (a ValueError) with one line that says where.
"""
from __future__ import annotations

import yaml

MAX_NODES = 10_000  # a large recipe has a few hundred values


class YamlRefused(ValueError):
    pass


class StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader (the same tags and types) that counts alias expansion and refuses duplicate keys."""

    max_nodes = MAX_NODES

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases: list[tuple[str, int]] = []  # (anchor, 1-based line) of each alias, in file order

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            self._aliases.append((event.anchor, event.start_mark.line + 1))
        return super().compose_node(parent, index)

    def compose_document(self):
        node = super().compose_document()
        if self._aliases:
            _check_expanded_size(node, self.max_nodes, self._aliases[-1])
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(self, node)
        return super().construct_mapping(node, deep=deep)


def load(text: str):
    """`yaml.safe_load(text)` with the checks above (YamlRefused) and yaml.YAMLError for bad syntax."""
    try:
        return yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise YamlRefused("nested too deeply to read") from None


def _check_expanded_size(root, limit: int, last_alias: tuple[str, int]) -> None:
    """Count the values the document holds once every alias is expanded: each node's expanded size is
    computed once (aliases are the same node object), so the walk is linear in the file."""
    size: dict[int, int] = {}
    stack: list[tuple[object, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            total = 1 + sum(size[id(c)] for c in _children(node))
            size[key] = total
            open_nodes.discard(key)
            if total > limit:
                anchor, line = last_alias
                raise YamlRefused(f"aliases expand it to more than {limit:,} values (alias *{anchor} on line {line} "
                                  "and the ones it repeats); write the values out instead")
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise YamlRefused(f"an alias refers to the value that contains it (alias *{last_alias[0]})")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_duplicate_keys(loader: StrictSafeLoader, node: yaml.MappingNode) -> None:
    first: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<`: merged keys may be overridden
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            continue
        line = key_node.start_mark.line + 1
        if key in first:
            raise YamlRefused(f"duplicate key '{key}' on line {line} (first on line {first[key]}); keep one")
        first[key] = line
