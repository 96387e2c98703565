"""Hand-written configuration files whose errors point at a line: YAML suites and profiles, and
the JSON baseline that people merge by hand.

Suites and model profiles are written by hand, so an error must say where: we keep the line of
every key while parsing and translate pydantic's error locations into ``file:line: key: why``.
A key given twice is an error in every one of them (YAML and JSON parsers would silently keep
the last value, so a second ``threshold:`` would quietly change a gate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

__all__ = ["DuplicateKeyError", "load_validated", "loads_json_unique", "read_text"]

Model = TypeVar("Model", bound=BaseModel)
Lines = dict[tuple[str | int, ...], int]


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _key_lines(node: yaml.Node, path: tuple[str | int, ...], lines: Lines, where: str) -> None:
    """Each key's line, and a ConfigError for the first key given twice in one mapping."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            name = str(key_node.value)
            if key_node.tag != _MERGE_TAG and name in first:  # ``<<: *defaults`` may be overridden
                raise ConfigError(f"given twice (first at line {first[name]}); keep one",
                                  where=f"{where}:{line}", key=".".join(map(str, path + (name,))))
            first.setdefault(name, line)
            key = path + (name,)
            _key_lines(value_node, key, lines, where)
            lines[key] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _key_lines(item, path + (index,), lines, where)


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


def read_text(path: Path, where: str) -> str:
    """The file as text (UTF-8, a BOM dropped); ConfigError naming the file, and for bytes that
    are not UTF-8 the line they are on."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror or exc})", where=where) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8",
                          where=f"{where}:{line}") from None


def _yaml_error(exc: yaml.YAMLError, where: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    at = f"{where}:{mark.line + 1}" if mark else where
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ConfigError(f"invalid YAML: {problem}", where=at)


def _construct(node: yaml.Node, where: str) -> Any:
    """The data of a composed document. (Building it resolves ``<<`` merge keys into the node
    tree in place, so keys and lines are read from the tree before.)"""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, where) from None
    finally:
        loader.dispose()


def load_validated(path: Path, model: type[Model], *, shown: str | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; any problem is one ConfigError line."""
    where = shown or str(path)
    try:
        node = yaml.compose(read_text(path, where), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, where) from None
    if node is None:
        raise ConfigError("the file is empty; expected a mapping of keys", where=where)
    lines: Lines = {}
    _key_lines(node, (), lines, where)
    data = _construct(node, where)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got {type(data).__name__}", where=where)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, why = _describe(dict(exc.errors()[0]))
        known = _known_prefix(loc, lines)
        line = lines.get(known)
        key = ".".join(str(p) for p in (known if known else loc)) or None
        raise ConfigError(why, where=f"{where}:{line}" if line else where, key=key) from None


class DuplicateKeyError(ValueError):
    """A JSON object holds a key twice; ``path`` is the dotted path of that object's key."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: given twice in one object (a merge gone wrong?); keep one")
        self.path = path


class _Pairs(list[tuple[str, Any]]):
    """An object's pairs as parsed, duplicates kept, to find where the first duplicate is."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise DuplicateKeyError("")
    return obj


def loads_json_unique(text: str) -> Any:
    """``json.loads`` that refuses a key given twice in one object, naming its path
    (``models.m.quiz.subjects.geo.samples.q1``). The fast parse is the normal one; only a file
    with a duplicate is parsed again to find where."""
    import json

    try:
        return json.loads(text, object_pairs_hook=_unique)
    except DuplicateKeyError:
        path = _first_duplicate(json.loads(text, object_pairs_hook=_Pairs), ())
        raise DuplicateKeyError(".".join(path)) from None


def _first_duplicate(value: Any, path: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            if key in seen:
                return path + (key,)
            seen.add(key)
            found = _first_duplicate(item, path + (key,))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_duplicate(item, path + (str(index),))
            if found:
                return found
    return ()
