"""pass@k: the chance that at least one of k replies to a problem passes, estimated from n ≥ k.

Chen et al. (2021), "Evaluating Large Language Models Trained on Code", eq. 1: with ``c`` of ``n``
replies correct, the unbiased estimate is ``1 - C(n-c, k) / C(n, k)``, averaged over problems.
(Drawing k of the n replies and checking them, or ``1 - (1 - c/n)^k``, is biased low.)

The ratio of binomials is computed as the product ``∏_{i=n-c+1}^{n} (1 - k/i)``, as the paper's
own numpy code does: each factor lies in [0, 1], so nothing overflows at any n, where
``math.comb(n, k)`` would grow to hundreds of digits and a float conversion of it fails past 1e308.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["mean_pass_at_k", "pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one problem with ``c`` correct replies out of ``n``; needs 1 ≤ k ≤ n.

    Exactly 1.0 when fewer than k replies are wrong (every draw of k holds a correct one), and
    exactly ``c / n`` for k = 1."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n replies per problem, got n={n}")
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n
    missing = 1.0
    for i in range(n - c + 1, n + 1):
        missing *= 1.0 - k / i
    return 1.0 - missing


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """pass@k over problems, each given as ``(n, c)``: the mean of their estimates, so problems
    with more replies weigh no more than others. NaN when there are no problems."""
    estimates = [pass_at_k(n, c, k) for n, c in counts]
    return math.fsum(estimates) / len(estimates) if estimates else math.nan
