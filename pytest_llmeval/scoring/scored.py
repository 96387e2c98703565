"""The two values every task's scorer works between: the gold side of a sample, and what it read.

A leaf module, so the task modules, the registry and ``score_reply`` can all import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import rules

__all__ = ["Gold", "Scored"]


@dataclass(frozen=True, slots=True)
class Gold:
    """What a reply is scored against: the sample's answer, its options where it has some, and its
    other fields (the row's columns), for a task that needs more than the answer: a code task reads
    the tests and the entry point there, a judge the reference and the rubric's inputs."""

    target: str
    labels: str = "ABCD"
    choices: Sequence[str] = ()
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


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

    @property
    def score(self) -> float:
        """The sample's score on the task's metric: 1.0 right, 0.0 wrong for the tasks that exist.

        The seam for graded tasks (a ROUGE F1, a judge's 1-5): such a task returns a subclass of
        ``Scored`` that carries its own float here, and declares ``aggregate="mean"`` in its
        registry entry (``tasks.Task``), so its subjects are averaged rather than counted.
        """
        return 1.0 if self.correct else 0.0
