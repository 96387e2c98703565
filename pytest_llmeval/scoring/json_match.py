"""``task: json_match``: the reply's JSON value, compared structurally with the gold answer's.

For suites that ask for structured output (a tool call's arguments, an extraction into fields):
key order and spacing do not matter, list order does, and types do: ``true`` is not ``1`` and
``"1"`` is not ``1``, though ``1`` and ``1.0`` are the same number. The gold answer is JSON text
(a JSON Lines row may hold it as an object; the loaders write such a cell as JSON). ``NaN`` and
``Infinity`` are not JSON, in either.

Where the value is read from, strongest first (``rule``): the whole reply; else the fenced code
blocks (```json ... ```); else the objects and arrays standing in the prose. Several that
disagree are ``conflicting answers`` (never a guess); none at all is ``no JSON``, an unparsed
reply. ``extracted`` is the value read, as compact JSON with sorted keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import rules
from .scored import Gold, Scored

__all__ = ["EMBEDDED", "FENCED_BLOCK", "NO_JSON", "read_gold", "read_json", "same_json", "score"]

FENCED_BLOCK = "fenced block"
EMBEDDED = "embedded JSON"
NO_JSON = "no JSON"

_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)
_DECODER = json.JSONDecoder(parse_constant=lambda name: _not_json(name))
_NOTHING = object()


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(text: str) -> Any:
    """The JSON value of the whole ``text``, or ``_NOTHING``."""
    try:
        return _DECODER.decode(text.strip())
    except ValueError:  # JSONDecodeError is a ValueError, as is a NaN
        return _NOTHING


def _embedded(text: str) -> Iterator[Any]:
    """Every object or array in ``text`` that is not inside another one, left to right."""
    index = 0
    while (index := _next_opening(text, index)) >= 0:
        try:
            value, end = _DECODER.raw_decode(text, index)
        except ValueError:
            index += 1
            continue
        yield value
        index = end


def _next_opening(text: str, start: int) -> int:
    found = [i for i in (text.find("{", start), text.find("[", start)) if i >= 0]
    return min(found, default=-1)


def _one(values: list[Any], rule: str) -> tuple[Any, str] | None:
    if not values:
        return None
    if all(same_json(values[0], v) for v in values[1:]):
        return values[0], rule
    return _NOTHING, rules.CONFLICTING


def read_json(reply: str) -> tuple[Any, str]:
    """The JSON value a reply gives and the rule that read it; ``(_NOTHING, reason)`` when none."""
    whole = _parse(reply)
    if whole is not _NOTHING:
        return whole, rules.WHOLE_REPLY
    fenced = [v for v in (_parse(m) for m in _FENCE.findall(reply)) if v is not _NOTHING]
    found = _one(fenced, FENCED_BLOCK) or _one(list(_embedded(reply)), EMBEDDED)
    return found if found is not None else (_NOTHING, NO_JSON)


def same_json(a: Any, b: Any) -> bool:
    """Structural equality with JSON's types: bool apart from numbers, ints equal to the same float."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _gold_value(target: str) -> Any:
    value = _parse(target)
    if value is _NOTHING:
        shown = repr(target if len(target) <= 60 else target[:57] + "...")
        raise ValueError(f"answer {shown} is not JSON")
    return value


def read_gold(gold: Gold) -> str:
    """Checked at collection: a gold answer that is not JSON is a data problem naming its row."""
    _gold_value(gold.target)
    return gold.target


def score(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    expected = _gold_value(gold.target)
    value, rule = read_json(reply)
    if value is _NOTHING:
        return Scored(None, False, rule)
    shown = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return Scored(shown, same_json(value, expected), rule)
