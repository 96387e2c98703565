"""One reply against one gold answer, for every task: what was read from the reply, and whether it is right.

``extracted`` is what was compared, so ``samples.jsonl`` shows why a sample passed or missed.
``rule`` names what read it (``rules.py``), or why nothing could be: a reply is *unparsed* when
``extracted`` is None, which is a format failure and is counted apart from a wrong answer. Each
task's scorer is found in ``tasks.REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .options import validate_options
from .scored import Gold, Scored
from .tasks import REGISTRY

__all__ = ["Scored", "score_reply"]

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


def score_reply(
    task: str, reply: str, target: str, *, labels: str = "ABCD", choices: Sequence[str] = (),
    options: Mapping[str, Any] = _NO_OPTIONS, fields: Mapping[str, Any] = _NO_OPTIONS,
) -> Scored:
    """Score ``reply`` against ``target`` under ``task`` and the suite's ``scoring:`` ``options``;
    ``fields`` are the sample's other columns, for tasks that read more than the answer.

    Raises ConfigError for options that do not fit the task, and ValueError for a gold answer
    that cannot be read (not a label, no number): scoring it would hide a data bug as a miss.
    """
    validate_options(task, options)
    return REGISTRY[task].score(reply, Gold(target, labels, choices, fields), options)
