"""A sample's score that is not just right or wrong: a ROUGE F, a sentence BLEU, a judge's 1-5.

``Scored.score`` is the seam: a graded task returns ``Graded``, whose ``score`` is its own float
(0 to 1), while ``correct`` stays the task's pass/fail for the sample (the score reached the
suite's ``pass_at``), so passed/missed items and the count of right answers still mean something.
Tasks that return it register ``aggregate="mean"`` (``tasks.REGISTRY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .scored import Scored

__all__ = ["Graded", "read_pass_at"]


@dataclass(frozen=True, slots=True)
class Graded(Scored):
    """``Scored`` with the sample's float score (0 to 1; 0 when unparsed)."""

    value: float = 0.0

    @property
    def score(self) -> float:
        return self.value


def read_pass_at(options: Mapping[str, Any], *, task: str, low: float = 0.0, high: float = 1.0,
                 example: str = "0.4") -> float:
    """The required ``scoring.pass_at``: the score from which a sample passes. Required, because a
    default would make "passed" mean a number nobody chose; ConfigError naming the key otherwise."""
    value = options.get("pass_at")
    if value is None:
        raise ConfigError(f"task {task} needs the score from which a sample passes, e.g. pass_at: {example}",
                          key="scoring.pass_at")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"expected a number from {low:g} to {high:g}, got {value!r}", key="scoring.pass_at")
    return float(value)
