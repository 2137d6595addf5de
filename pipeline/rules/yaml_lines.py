"""YAML loading that remembers the line of every mapping key and list item.

Rule-pack validation reports ``FILE:LINE: reason``; plain ``yaml.safe_load`` forgets lines,
so mappings and sequences are built as ``LineMap`` / ``LineList`` that carry them.
"""

from __future__ import annotations

from typing import Any

import yaml


class LineMap(dict):
    """A dict with ``line`` (its own first line) and ``key_lines[key]`` (line of each key)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


class LineList(list):
    """A list with ``line`` and ``item_lines[i]`` (line of each item)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result:
            result.duplicates.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_with_lines(text: str) -> Any:
    """Parse YAML text; mappings become ``LineMap`` and sequences ``LineList``."""
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass


def line_of(container: Any, key: Any, default: int = 0) -> int:
    """Line of ``container[key]`` when the container remembers it, else ``default``."""
    if isinstance(container, LineMap):
        return container.key_lines.get(key, container.line or default)
    if isinstance(container, LineList) and isinstance(key, int) and 0 <= key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", default) or default
