"""Confidence intervals for accuracies, in closed form: importing scipy for one formula cost
every run about a second (measured in benchmarks/RESULTS.md); the tests check it against scipy."""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson_interval"]


def wilson_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval of ``correct`` successes in ``n`` trials:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), Wilson (1927), as scipy's
    ``binomtest(...).proportion_ci(method="wilson")``.

    With ``n == 0`` nothing is known and the interval is ``(nan, nan)``; rows turn NaN into
    None (JSON has no NaN) and the terminal shows ``-``. The bounds are clamped to [0, 1] and
    to contain ``correct / n``, so float rounding can never put the score outside its interval.
    """
    if not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = correct / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    low, high = (centre - spread) / denominator, (centre + spread) / denominator
    return min(max(low, 0.0), p), max(min(high, 1.0), p)
