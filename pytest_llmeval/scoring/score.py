"""One reply against one gold answer, for every task: what was read from the reply, and whether it is right.

``extracted`` is what was compared, so ``samples.jsonl`` shows why a sample passed or missed:
the letter, the normalised number, the regex capture, or the reply under the suite's text rules.
``rule`` names what read it (``rules.py``), or why nothing could be: a reply is *unparsed* when
``extracted`` is None, which is a format failure and is counted apart from a wrong answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from . import rules
from .choice import read_choice
from .labels import normalize_choice_target
from .numbers import extract_number, numbers_equal, read_number
from .options import compiled_pattern, text_rules, validate_options
from .text import normalize_text

__all__ = ["Scored", "score_reply"]

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Scored:
    """The answer read from a reply (None when none could be read), whether it matches the gold one,
    and the rule that read it (or why none could)."""

    extracted: str | None
    correct: bool
    rule: str = rules.WHOLE_REPLY

    @property
    def unparsed(self) -> bool:
        """No answer could be read from the reply: it did not follow the answer format."""
        return self.extracted is None


def _multiple_choice(reply: str, target: str, labels: str, choices: Sequence[str]) -> Scored:
    gold = normalize_choice_target(target, choices, labels)
    read = read_choice(reply, labels, choices)
    return Scored(read.letter, read.letter == gold, read.rule)


def _numeric(reply: str, target: str) -> Scored:
    gold = extract_number(target)
    if gold is None:
        raise ValueError(f"numeric target {target[:60]!r} contains no number")
    number, rule = read_number(reply)
    return Scored(number, number is not None and numbers_equal(number, gold), rule)


def _exact_match(reply: str, target: str, task: str, options: Mapping[str, Any]) -> Scored:
    how = text_rules(task, options)
    found = normalize_text(reply, how)
    return Scored(found, found == normalize_text(target, how))


def _contains(reply: str, target: str, options: Mapping[str, Any]) -> Scored:
    """An empty gold answer is contained in everything, so it counts as a miss rather than a free pass."""
    how = text_rules("contains", options)
    found, gold = normalize_text(reply, how), normalize_text(target, how)
    return Scored(found, bool(gold) and gold in found)


def _regex(reply: str, target: str, options: Mapping[str, Any]) -> Scored:
    """The FIRST match counts (re.search, DOTALL|MULTILINE): its first group if it took part, else the whole match.

    ``ignore_case`` applies to the comparison, not the search; write ``(?i)`` in the pattern for that.
    """
    match = compiled_pattern(str(options["pattern"])).search(reply)
    if match is None:
        return Scored(None, False, rules.NO_MATCH)
    group = match.group(1) if match.re.groups and match.group(1) is not None else match.group(0)
    return replace(_exact_match(group, target, "regex", options), rule=rules.PATTERN)


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
