"""One reply against one gold answer, for every task: what was read from the reply, and whether it is right.

``extracted`` is what was compared, so ``samples.jsonl`` shows why a sample passed or missed:
the letter, the normalised number, the regex capture, or the reply under the suite's text rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .choice import extract_choice
from .labels import normalize_choice_target
from .numbers import extract_number, numbers_equal
from .options import compiled_pattern, text_rules, validate_options
from .text import normalize_text

__all__ = ["Scored", "score_reply"]

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Scored:
    """The answer read from a reply (None when none could be read) and whether it matches the gold one."""

    extracted: str | None
    correct: bool


def _multiple_choice(reply: str, target: str, labels: str, choices: Sequence[str]) -> Scored:
    gold = normalize_choice_target(target, choices, labels)
    letter = extract_choice(reply, labels, choices)
    return Scored(letter, letter == gold)


def _numeric(reply: str, target: str) -> Scored:
    gold = extract_number(target)
    if gold is None:
        raise ValueError(f"numeric target {target[:60]!r} contains no number")
    number = extract_number(reply)
    return Scored(number, number is not None and numbers_equal(number, gold))


def _exact_match(reply: str, target: str, task: str, options: Mapping[str, Any]) -> Scored:
    rules = text_rules(task, options)
    found = normalize_text(reply, rules)
    return Scored(found, found == normalize_text(target, rules))


def _contains(reply: str, target: str, options: Mapping[str, Any]) -> Scored:
    """An empty gold answer is contained in everything, so it counts as a miss rather than a free pass."""
    rules = text_rules("contains", options)
    found, gold = normalize_text(reply, rules), normalize_text(target, rules)
    return Scored(found, bool(gold) and gold in found)


def _regex(reply: str, target: str, options: Mapping[str, Any]) -> Scored:
    """The FIRST match counts (re.search, DOTALL|MULTILINE): its first group if it took part, else the whole match.

    ``ignore_case`` applies to the comparison, not the search; write ``(?i)`` in the pattern for that.
    """
    match = compiled_pattern(str(options["pattern"])).search(reply)
    if match is None:
        return Scored(None, False)
    group = match.group(1) if match.re.groups and match.group(1) is not None else match.group(0)
    return _exact_match(group, target, "regex", options)


def score_reply(
    task: str, reply: str, target: str, *, labels: str = "ABCD", choices: Sequence[str] = (),
    options: Mapping[str, Any] = _NO_OPTIONS,
) -> Scored:
    """Score ``reply`` against ``target`` under ``task`` and the suite's ``scoring:`` ``options``.

    Raises ConfigError for options that do not fit the task, and ValueError for a gold answer
    that cannot be read (not a label, no number): scoring it would hide a data bug as a miss.
    """
    validate_options(task, options)
    if task == "multiple_choice":
        return _multiple_choice(reply, target, labels, choices)
    if task == "numeric":
        return _numeric(reply, target)
    if task == "contains":
        return _contains(reply, target, options)
    if task == "regex":
        return _regex(reply, target, options)
    return _exact_match(reply, target, task, options)
