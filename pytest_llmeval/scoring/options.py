"""The ``scoring:`` block of a suite: which keys exist, which task uses which, and their defaults.

Checked at collection (``validate_options``), so a typo fails the suite with one line naming
``scoring.<key>`` instead of silently scoring with defaults for the whole run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..errors import ConfigError
from .text import TextRules

__all__ = ["SCORING_OPTIONS", "TASKS", "compiled_pattern", "text_rules", "validate_options"]

TASKS: tuple[str, ...] = ("multiple_choice", "exact_match", "contains", "regex", "numeric")
SCORING_OPTIONS: frozenset[str] = frozenset({"ignore_case", "ignore_punctuation", "pattern", "strip"})

_TEXT_TASKS = ("exact_match", "contains", "regex")
_FLAGS = ("ignore_case", "ignore_punctuation", "strip")
# Only the key a task reads is accepted: a key the task ignores is a misunderstanding worth a line.
_APPLIES: dict[str, frozenset[str]] = {
    "multiple_choice": frozenset(),
    "numeric": frozenset(),
    "exact_match": frozenset(_FLAGS),
    "contains": frozenset(_FLAGS),
    "regex": frozenset({*_FLAGS, "pattern"}),
}


def _name(key: object) -> str:
    text = str(key)
    return text if text.isprintable() else repr(text)


def _check_key(task: str, key: object) -> None:
    if key not in SCORING_OPTIONS:
        expected = ", ".join(sorted(SCORING_OPTIONS))
        raise ConfigError(f"unknown option (expected one of {expected})", key=f"scoring.{_name(key)}")
    if key not in _APPLIES[task]:
        users = ", ".join(t for t in TASKS if key in _APPLIES[t])
        raise ConfigError(f"does not apply to task {task} (only to {users})", key=f"scoring.{key}")


def _check_pattern(options: Mapping[str, Any]) -> None:
    pattern = options.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError("task regex needs a regular expression here, e.g. 'Answer: (\\w+)'", key="scoring.pattern")
    try:
        compiled_pattern(pattern)
    except re.error as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"invalid regular expression {pattern!r} ({detail})", key="scoring.pattern") from None


def validate_options(task: str, options: Mapping[str, Any]) -> None:
    """Raise ConfigError (one line naming ``task`` or ``scoring.<key>``) unless ``options`` fit ``task``."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})", key="task")
    if not isinstance(options, Mapping):
        raise ConfigError(f"expected a mapping of options, got {type(options).__name__}", key="scoring")
    for key, value in options.items():
        _check_key(task, key)
        if key in _FLAGS and not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", key=f"scoring.{key}")
    if task == "regex":
        _check_pattern(options)


def text_rules(task: str, options: Mapping[str, Any]) -> TextRules:
    """The comparison rules of a string task: case is ignored by default only for ``contains``."""
    return TextRules(
        ignore_case=bool(options.get("ignore_case", task == "contains")),
        ignore_punctuation=bool(options.get("ignore_punctuation", False)),
        strip=bool(options.get("strip", True)),
    )


@lru_cache(maxsize=256)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled once per process: it is searched for every sample of a suite."""
    return re.compile(pattern, re.DOTALL | re.MULTILINE)
