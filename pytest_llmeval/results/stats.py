"""Confidence intervals for accuracies, in closed form: importing scipy for one formula cost
every run about a second (measured in benchmarks/RESULTS.md); the tests check it against scipy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = ["PERMUTATIONS", "mcnemar_exact", "naive_interval", "naive_mean_interval", "paired_permutation", "wilson_interval"]

PERMUTATIONS = 10_000
PERMUTATION_SEED = 20261207
EXACT_UP_TO = 16  # 65,536 sign patterns: a 1 MB matrix, milliseconds


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


def mcnemar_exact(right_to_wrong: int, wrong_to_right: int) -> float:
    """McNemar's exact two-sided p-value for paired right/wrong outcomes.

    Only the discordant pairs carry information about a change: under "no change" each of the
    ``b + c`` flips is equally likely to go either way, so the smaller count is Binomial(b + c, ½)
    and the p-value is twice its lower tail, capped at 1 (the test is symmetric, so this equals
    scipy's ``binomtest(min(b, c), b + c, 0.5).pvalue``). Integers are exact at any size; with
    no flips there is no evidence of change, and p is 1.
    """
    if right_to_wrong < 0 or wrong_to_right < 0:
        raise ValueError(f"need counts >= 0, got {right_to_wrong} and {wrong_to_right}")
    n = right_to_wrong + wrong_to_right
    k = min(right_to_wrong, wrong_to_right)
    if n == 0 or 2 * k == n:
        return 1.0
    term = tail = 1  # C(n, 0); each next term exactly, C(n, i + 1) = C(n, i) (n - i) / (i + 1)
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / (1 << n))


def naive_interval(counts: list[tuple[int, int]], level: float = 0.95) -> tuple[float, float]:
    """An interval for the unweighted mean of several subjects' accuracies ((correct, n) each).

    The mean of k independent proportions has variance Σ pᵢ(1-pᵢ)/nᵢ / k². Each pᵢ in the
    variance is Agresti and Coull's (cᵢ + 2)/(nᵢ + 4), so a subject scored all right or all
    wrong still adds its uncertainty; the normal interval is clamped to [0, 1] and to contain the
    mean. Subjects with nothing scored are left out; with none left the interval is (nan, nan).
    """
    scored = [(c, n) for c, n in counts if n > 0]
    if not scored:
        return math.nan, math.nan
    if any(not 0 <= c <= n for c, n in scored):
        raise ValueError(f"need 0 <= correct <= n, got {scored}")
    k = len(scored)
    mean = sum(c / n for c, n in scored) / k
    variance = sum(((c + 2) / (n + 4)) * (1 - (c + 2) / (n + 4)) / n for c, n in scored) / (k * k)
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(variance)
    return min(max(mean - half, 0.0), mean), max(min(mean + half, 1.0), mean)


def paired_permutation(differences: Sequence[float], *, permutations: int = PERMUTATIONS,
                       seed: int = PERMUTATION_SEED) -> float:
    """The two-sided p-value of "no change" for paired per-sample score differences (now - was):
    the paired sign-flip permutation test (approximate randomisation, the test sacreBLEU and
    Riezler and Maxwell (2005) use to compare systems on the same sentences).

    It is McNemar's test generalised to graded scores: under "no change" each sample's difference
    is as likely to have the other sign, so the observed |sum| is ranked among the sums with the
    signs flipped. Exact (all 2^m sign patterns of the m non-zero differences) when m is at most
    ``EXACT_UP_TO`` or 2^m at most ``permutations``; otherwise that many random patterns from a fixed seed, with the +1 correction
    that keeps a Monte Carlo p-value valid (Phipson and Smyth 2010). Differences are sorted first,
    so the same pairs give the same p in any process and order. No differences: p = 1.
    """
    import numpy as np

    values = np.sort(np.asarray([d for d in differences if d != 0], dtype=np.float64))
    if values.size and not np.isfinite(values).all():
        raise ValueError("differences must be finite numbers")
    m = int(values.size)
    if m == 0:
        return 1.0
    observed = abs(math.fsum(values.tolist()))
    slack = 1e-9 * max(1.0, float(np.abs(values).sum()))  # float sums of one pattern differ in the last bits
    if m <= EXACT_UP_TO or (1 << m) <= permutations:
        patterns = ((np.arange(1 << m)[:, None] >> np.arange(m)) & 1) * 2 - 1
        sums = np.abs(patterns @ values)
        return float(np.count_nonzero(sums >= observed - slack)) / (1 << m)
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    rows = max(1, (1 << 20) // m)
    while done < permutations:
        count = min(rows, permutations - done)
        signs = rng.integers(0, 2, (count, m), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(np.abs(signs @ values) >= observed - slack))
        done += count
    return min(1.0, (hits + 1) / (permutations + 1))


def naive_mean_interval(members: Sequence[Sequence[float]], level: float = 0.95) -> tuple[float, float]:
    """``naive_interval`` for graded scores on the 0-1 scale: the unweighted mean of the members'
    mean scores, with variance sum(s_i^2 / n_i) / k^2 from each member's sample variance s_i^2.
    A member with one score has no variance estimate and counts the largest a 0-1 score can
    have, 1/4, as Agresti-Coull's pseudo-counts keep an all-right subject's uncertainty.
    Members with no scores are left out; with none left the interval is (nan, nan)."""
    scored = [list(m) for m in members if len(m)]
    if not scored:
        return math.nan, math.nan
    k = len(scored)
    means = [math.fsum(m) / len(m) for m in scored]
    mean = math.fsum(means) / k
    variance = math.fsum(_variance(m, mu) / len(m) for m, mu in zip(scored, means)) / (k * k)
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(variance)
    return min(max(mean - half, 0.0), mean), max(min(mean + half, 1.0), mean)


def _variance(scores: list[float], mean: float) -> float:
    if len(scores) < 2:
        return 0.25
    return math.fsum((x - mean) ** 2 for x in scores) / (len(scores) - 1)
