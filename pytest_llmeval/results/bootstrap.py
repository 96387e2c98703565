"""A seeded bootstrap interval for the mean of per-sample scores that are not 0/1 (ROUGE, BLEU,
chrF, judge scores). 0/1 scores keep Wilson's closed form (``stats.wilson_interval``).

**BCa, not the plain percentile interval.** Per-sample text metrics are bounded and skewed (many
sentence BLEUs are 0, a few are high), and the percentile interval of a skewed mean covers less
than it says. Efron's bias-corrected and accelerated interval adjusts the percentiles for the
bootstrap distribution's bias (z0) and skew (the acceleration, from the jackknife), is accurate to
second order, and is scipy's default. For a mean the jackknife has a closed form, so BCa costs no
more than the percentile interval. ``method="percentile"`` is there for comparison.

**The same scores give the same interval, in any process and in any order.** The scores are
sorted first (under xdist they arrive in any order), then resampled with numpy's PCG64 generator
from a fixed seed. Resamples are drawn exactly as ``scipy.stats.bootstrap`` draws them (batches of
``rng.integers(0, n, (rows, n))``), so with the same seed and batch size scipy gives the same
interval: the tests check that.

**Bounded in memory, as fast as scipy.** 2,000 resamples (sacreBLEU's and rouge-score's
bootstraps use 1,000), drawn in batches of at most ``MAX_DRAWS`` indices, so memory stays near
32 MB however many scores there are. 15,000 scores take as long as scipy's percentile bootstrap
of the same resamples and a quarter of scipy's BCa, whose jackknife is quadratic
(``benchmarks/open_ended_speed.py``).

Limits: the bootstrap knows only the scores it is given, so with a handful of samples its
interval is too narrow (it cannot see spread that the sample did not show: all-equal scores give a
zero-width interval), and it is never better than the data. When BCa's corrections are undefined
(every resample on one side of the mean) the percentile interval is returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "MAX_DRAWS", "batch_rows", "bootstrap_interval", "mean_score"]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20261207
MAX_DRAWS = 1 << 21  # indices drawn at once: 16 MB of int64, and as much again for the gathered scores
Method = Literal["bca", "percentile"]


def batch_rows(n: int, n_resamples: int) -> int:
    """Resamples drawn per batch for ``n`` scores (pass it to scipy's ``batch`` to reproduce us)."""
    return max(1, min(n_resamples, MAX_DRAWS // max(n, 1)))


def mean_score(scores: Sequence[float]) -> float:
    """The mean of per-sample scores, the same in any order (``math.fsum`` is exact); nan for none."""
    return math.fsum(scores) / len(scores) if len(scores) else math.nan


def bootstrap_interval(scores: Sequence[float], level: float = 0.95, *, method: Method = "bca",
                       n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """The two-sided ``level`` interval for the mean of ``scores``.

    No scores: ``(nan, nan)``, as ``wilson_interval`` gives for nothing scored. One score, or all
    equal: a zero-width interval at their value. The bounds always contain ``mean_score(scores)``.
    """
    import numpy as np

    if not 0 < level < 1:
        raise ValueError(f"need 0 < level < 1, got {level}")
    if method not in ("bca", "percentile"):
        raise ValueError(f"unknown method {method!r} (expected bca or percentile)")
    if n_resamples < 1:
        raise ValueError(f"need n_resamples >= 1, got {n_resamples}")
    values = np.sort(np.asarray(scores, dtype=np.float64))
    if values.size and not np.isfinite(values).all():
        raise ValueError("scores must be finite numbers")
    if values.size == 0:
        return math.nan, math.nan
    mean = mean_score(scores)
    if values[0] == values[-1]:
        return mean, mean
    means = _resampled_means(values, n_resamples, seed)
    # scipy's statistic is np.mean of the sorted scores: the same float, so z0 counts the same ties
    levels = (_bca_levels(values, means, float(np.mean(values)), level) if method == "bca" else None)
    low, high = (float(q) for q in np.quantile(means, levels or _percentile_levels(level)))
    return min(low, mean), max(high, mean)


def _resampled_means(values: NDArray[np.float64], n_resamples: int, seed: int) -> NDArray[np.float64]:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = values.size
    rows = batch_rows(n, n_resamples)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        count = min(rows, n_resamples - start)
        means[start:start + count] = np.mean(values[rng.integers(0, n, (count, n))], axis=-1)
    return means


def _percentile_levels(level: float) -> tuple[float, float]:
    alpha = (1 - level) / 2
    return alpha, 1 - alpha


def _bca_levels(values: NDArray[np.float64], means: NDArray[np.float64], mean: float,
                level: float) -> tuple[float, float] | None:
    """Efron's adjusted percentiles (Efron and Tibshirani 1993, 14.3), as scipy computes them:
    z0 from the share of resampled means below the mean (ties counted half), the acceleration
    from the jackknife, which for a mean is sum(d³) / (6 sum(d²)^1.5) with d = x - mean.
    None when a correction is undefined."""
    import numpy as np

    share = (np.count_nonzero(means < mean) + np.count_nonzero(means <= mean)) / (2 * means.size)
    if not 0 < share < 1:
        return None
    normal = NormalDist()
    z0 = normal.inv_cdf(share)
    deviations = values - mean
    spread = float(np.max(np.abs(deviations)))
    if not 0 < spread < math.inf:
        return None
    deviations = deviations / spread  # the ratio is scale-free; scaling keeps tiny spreads from underflowing
    acceleration = float(np.sum(deviations**3)) / (6 * float(np.sum(deviations**2)) ** 1.5)
    z_alpha = normal.inv_cdf((1 - level) / 2)
    levels = []
    for z in (z_alpha, -z_alpha):
        denominator = 1 - acceleration * (z0 + z)
        if denominator <= 0:
            return None
        levels.append(normal.cdf(z0 + (z0 + z) / denominator))
    return levels[0], levels[1]
