"""The ``scoring:`` block of a suite: which keys exist and which task reads which (``tasks.REGISTRY``).

Checked at collection (``validate_options``), so a typo fails the suite with one line naming
``scoring.<key>`` instead of silently scoring with defaults for the whole run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .tasks import REGISTRY, TASKS, task_named

__all__ = ["SCORING_OPTIONS", "TASKS", "validate_options"]

SCORING_OPTIONS: frozenset[str] = frozenset().union(*(t.options for t in REGISTRY.values()))


def _name(key: object) -> str:
    text = str(key)
    return text if text.isprintable() else repr(text)


def _check_key(task: str, key: object) -> None:
    """Only the key a task reads is accepted: a key the task ignores is a misunderstanding worth a line."""
    if key not in SCORING_OPTIONS:
        expected = ", ".join(sorted(SCORING_OPTIONS))
        raise ConfigError(f"unknown option (expected one of {expected})", key=f"scoring.{_name(key)}")
    if key not in REGISTRY[task].options:
        users = ", ".join(t.name for t in REGISTRY.values() if key in t.options)
        raise ConfigError(f"does not apply to task {task} (only to {users})", key=f"scoring.{key}")


def validate_options(task: str, options: Mapping[str, Any]) -> None:
    """Raise ConfigError (one line naming ``task`` or ``scoring.<key>``) unless ``options`` fit ``task``."""
    spec = task_named(task)
    if not isinstance(options, Mapping):
        raise ConfigError(f"expected a mapping of options, got {type(options).__name__}", key="scoring")
    for key in options:
        _check_key(task, key)
    spec.check_options(options)
