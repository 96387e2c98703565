"""The built-in tasks' scorers and option checks: multiple_choice, exact_match, contains, regex, numeric.

Each is registered by one line in ``tasks.py``. ``extracted`` is what was compared, so
``samples.jsonl`` shows why a sample passed or missed: the letter, the normalised number, the
regex capture, or the reply under the suite's text rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ..errors import ConfigError, detail
from . import rules
from .choice import read_choice
from .labels import normalize_choice_target
from .numbers import extract_number, numbers_equal, read_number
from .scored import Gold, Scored
from .text import TextRules, normalize_text

__all__ = [
    "FLAGS", "check_flags", "check_pattern", "compiled_pattern", "contains", "exact_match", "multiple_choice",
    "multiple_choice_gold", "numeric", "numeric_gold", "regex", "text_rules",
]

FLAGS: frozenset[str] = frozenset({"ignore_case", "ignore_punctuation", "strip"})  # the string tasks' switches


def multiple_choice(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    letter = normalize_choice_target(gold.target, gold.choices, gold.labels)
    read = read_choice(reply, gold.labels, gold.choices)
    return Scored(read.letter, read.letter == letter, read.rule)


def multiple_choice_gold(gold: Gold) -> str:
    """The answer as a letter (collection normalises it once); ValueError names what it is not."""
    return normalize_choice_target(gold.target, gold.choices, gold.labels)


def numeric(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    number = extract_number(gold.target)
    if number is None:
        raise ValueError(f"numeric target {gold.target[:60]!r} contains no number")
    found, rule = read_number(reply)
    return Scored(found, found is not None and numbers_equal(found, number), rule)


def numeric_gold(gold: Gold) -> str:
    if extract_number(gold.target) is None:
        raise ValueError(f"answer {gold.target!r} holds no number")
    return gold.target


def exact_match(reply: str, gold: Gold, options: Mapping[str, Any], task: str = "exact_match") -> Scored:
    how = text_rules(task, options)
    found = normalize_text(reply, how)
    return Scored(found, found == normalize_text(gold.target, how))


def contains(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    """An empty gold answer is contained in everything, so it counts as a miss rather than a free pass."""
    how = text_rules("contains", options)
    found, target = normalize_text(reply, how), normalize_text(gold.target, how)
    return Scored(found, bool(target) and target in found)


def regex(reply: str, gold: Gold, options: Mapping[str, Any]) -> Scored:
    """The FIRST match counts (re.search, DOTALL|MULTILINE): its first group if it took part, else the whole match.

    ``ignore_case`` applies to the comparison, not the search; write ``(?i)`` in the pattern for that.
    """
    match = compiled_pattern(str(options["pattern"])).search(reply)
    if match is None:
        return Scored(None, False, rules.NO_MATCH)
    group = match.group(1) if match.re.groups and match.group(1) is not None else match.group(0)
    return replace(exact_match(group, gold, options, "regex"), rule=rules.PATTERN)


def text_rules(task: str, options: Mapping[str, Any]) -> TextRules:
    """The comparison rules of a string task: case is ignored by default only for ``contains``."""
    return TextRules(
        ignore_case=bool(options.get("ignore_case", task == "contains")),
        ignore_punctuation=bool(options.get("ignore_punctuation", False)),
        strip=bool(options.get("strip", True)),
    )


def check_flags(options: Mapping[str, Any]) -> None:
    for key, value in options.items():
        if key in FLAGS and not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", key=f"scoring.{key}")


def check_pattern(options: Mapping[str, Any]) -> None:
    check_flags(options)
    pattern = options.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError("task regex needs a regular expression here, e.g. 'Answer: (\\w+)'", key="scoring.pattern")
    try:
        compiled_pattern(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid regular expression {pattern!r} ({detail(exc)})", key="scoring.pattern") from None


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled once per process: it is searched for every sample of a suite."""
    return re.compile(pattern, re.DOTALL | re.MULTILINE)
