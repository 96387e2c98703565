"""pass@k per subject, for suites that ask each problem several times (``repeats`` > 1).

Each sample (a problem) carries its own unbiased pass@k (``SampleResult.pass_at``, Chen et al.'s
estimator from its n attempts); a subject's pass@k is their mean over its problems, as Chen et
al. and HumanEval's ``evaluate_functional_correctness`` report it, and pass^k is the share of
problems every attempt solved. Problems that ended in an error have no pass@k and are left out
(the error already fails the run). Rows are in the order samples first appear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .payload import SampleResult

__all__ = ["pass_at_rows"]


def pass_at_rows(samples: Iterable[SampleResult]) -> list[dict[str, Any]]:
    """One record per (model, suite, subject) with repeated attempts: ``n`` problems, ``repeats``,
    ``pass@k`` for every k asked (pass@1 first) and ``pass^k``; none for a run without repeats."""
    groups: dict[tuple[str, str, str], list[SampleResult]] = {}
    for sample in samples:
        if sample.pass_at is not None and sample.attempts:
            groups.setdefault((sample.model, sample.suite, sample.subject), []).append(sample)
    return [_row(key, members) for key, members in groups.items()]


def _row(key: tuple[str, str, str], members: list[SampleResult]) -> dict[str, Any]:
    model, suite, subject = key
    names = sorted({name for m in members for name in m.pass_at or {}}, key=lambda name: int(name.removeprefix("pass@")))
    row: dict[str, Any] = {"model": model, "suite": suite, "subject": subject, "n": len(members),
                           "repeats": len(members[0].attempts or [])}
    for name in names:
        row[name] = round(math.fsum((m.pass_at or {})[name] for m in members) / len(members), 6)
    row[f"pass^{row['repeats']}"] = round(sum(bool(m.correct) for m in members) / len(members), 6)
    return row
