"""Confidence intervals for accuracies. scipy loads on first use, never at import."""

from __future__ import annotations

import math

__all__ = ["wilson_interval"]


def wilson_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval of ``correct`` successes in ``n`` trials.

    With ``n == 0`` nothing is known and the interval is ``(nan, nan)``; rows turn NaN into
    None (JSON has no NaN) and the terminal shows ``-``. The bounds are clamped to [0, 1] and
    to contain ``correct / n``, so float rounding can never put the score outside its interval.
    """
    if not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest  # type: ignore[import-untyped]  # no stubs installed

    ci = binomtest(correct, n).proportion_ci(confidence_level=level, method="wilson")
    p = correct / n
    return min(max(float(ci.low), 0.0), p), max(min(float(ci.high), 1.0), p)
