"""YAML files whose validation errors point at a line.

Suites and model profiles are written by hand, so an error must say where: we keep the line of
every key while parsing and translate pydantic's error locations into ``file:line: key: why``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

__all__ = ["load_validated"]

Model = TypeVar("Model", bound=BaseModel)
Lines = dict[tuple[str | int, ...], int]


def _key_lines(node: yaml.Node, path: tuple[str | int, ...], lines: Lines) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = path + (str(key_node.value),)
            _key_lines(value_node, key, lines)
            lines[key] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _key_lines(item, path + (index,), lines)


def _describe(error: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "value_error":
        return loc, msg.removeprefix("Value error, ")
    got = error.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    return loc, f"{msg[0].lower()}{msg[1:]} (got {shown})"


def _known_prefix(loc: tuple[str | int, ...], lines: Lines) -> tuple[str | int, ...]:
    """The longest part of an error location that is a real key (pydantic adds union member tags)."""
    while loc and loc not in lines:
        loc = loc[:-1]
    return loc


def load_validated(path: Path, model: type[Model], *, shown: str | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; any problem is one ConfigError line."""
    where = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror})", where=where) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else where
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", where=at) from None
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got {type(data).__name__}", where=where)
    lines: Lines = {}
    if node is not None:
        _key_lines(node, (), lines)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, why = _describe(dict(exc.errors()[0]))
        known = _known_prefix(loc, lines)
        line = lines.get(known)
        key = ".".join(str(p) for p in (known if known else loc)) or None
        raise ConfigError(why, where=f"{where}:{line}" if line else where, key=key) from None
