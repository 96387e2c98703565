"""Sequential early stopping of a threshold gate: stop asking once the full run's verdict is known.

The question. A subject is a finite population of N outcomes x_1..x_N in [0, 1] (0/1 accuracy,
or a fractional score), with mean mu. Its gate passes when mu >= c (equality passes, as
``score >= threshold`` does). The samples are asked one by one in a uniformly random order
X_1, X_2, ..., drawn independently of the outcomes. After each one we want to say "pass" or
"fail" as soon as the FULL run's verdict (mu against c, over all N) is known at level alpha,
and keep asking otherwise, without the peeking after every sample breaking the guarantee.

The guarantee. For every population of N outcomes in [0, 1] and every threshold, over the
random order only:

    P(the verdict reached differs from the full run's verdict) <= alpha.

It holds whenever the rule stops (it is anytime-valid), needs no i.i.d. model or "true
accuracy", and is per subject: with k subjects, up to k * alpha for "some verdict differs".

Derivation (Waudby-Smith and Ramdas: "Confidence sequences for sampling without replacement",
NeurIPS 2020, and "Estimating means of bounded random variables by betting", JRSS-B 2023).
Let S_t = X_1 + ... + X_t. If the population mean were m, the mean of what is left before
draw t would be

    m_t(m) = (N m - S_{t-1}) / (N - t + 1),

and because each unasked sample is equally likely to come next, E[X_t | X_1..X_{t-1}] =
m_t(mu) exactly. Test only the point that matters, m = c, with two one-sided bets whose
stakes lam_t >= 0 are fixed before X_t is seen:

    K+_t = prod_{i<=t} (1 + lam+_i (X_i - m_i(c)))      evidence for "pass" (mu >= c)
    K-_t = prod_{i<=t} (1 - lam-_i (X_i - m_i(c)))      evidence for "fail" (mu < c)

If in truth mu < c, then m_i(c) > m_i(mu), and as lam+_i >= 0 and lam+_i <= BET_CAP / m_i(c),

    0 < 1 - BET_CAP <= 1 + lam+_i (X_i - m_i(c)) <= 1 + lam+_i (X_i - m_i(mu)).

The right-hand factors have conditional mean 1, so their product M_t is a nonnegative martingale
with M_0 = 1, and K+_t <= M_t at every t. By Ville's inequality P(M_t ever >= 1/alpha) <= alpha,
so P(K+_t ever >= 1/alpha) <= alpha. Likewise, if mu >= c then m_i(c) <= m_i(mu), and with
lam-_i <= BET_CAP / (1 - m_i(c)), P(K-_t ever >= 1/alpha) <= alpha. Exactly one of "mu >= c"
and "mu < c" is true of the population, so a wrong verdict needs the one wrong bet to reach
1/alpha: at most alpha in all, with no split between the two sides. The rule:

- "pass" once S_t / N >= c (certain: later outcomes only add) or K+_t >= 1/alpha;
- "fail" once (S_t + N - t) / N < c (certain even if all the rest score 1) or K-_t >= 1/alpha.

Certain verdicts are never wrong, so every error comes from a bet. They apply the full run's own
float expression, ``correct / n >= threshold``, to the least and the most the sum can still
become, so they agree with it bit for bit; after all N outcomes one of them holds, so every run
ends with a verdict. Sampling without replacement is what makes large subjects cheap: as the
unasked remainder shrinks, m_t(c) moves away from the data's mean and the bets grow with the gap.

The stakes (any choice made before X_t is seen is valid; this one is for power) are the
approximate Kelly bet of Waudby-Smith and Ramdas (aGRAPA): lam = d / (v + d^2), the maximiser of
a second-order expansion of E log(1 + lam (X_t - m)). Here d = mu_hat - m_t(c), with
mu_hat = (c + S_{t-1}) / t, the mean with one pseudo-outcome at the threshold (so the first
stake is zero up to rounding), and v = (1/4 + sum_{i<t} (X_i - mu_hat_i)^2) / t, a running
variance with a prior of 1/4. lam+ is lam clipped to [0, BET_CAP / m_t(c)] and lam- is -lam
clipped to [0, BET_CAP / (1 - m_t(c))], so one side bets at a time; nothing is bet while m_t(c)
is within _EDGE of 0 or 1. Mirroring the scores (x -> 1 - x, c -> 1 - c) swaps K+ and K-.
benchmarks/early_stop_sim.py measures the result: at most alpha everywhere, and at most a sixth
of the samples asked on a 1,000-sample subject 10 points from its threshold.

What it does NOT cover: a fixed order (right answers first fool any early stop), or one that
depends on the outcomes (completion order under concurrency, cached samples first, choosing
among seeds after seeing results): ``update`` must be called in the seeded random order,
whatever order the answers arrive in. A population that changes mid-run (samples added,
removed, or skipped because of their outcome, such as errors). Gates on the interval
(``--llm-gate=ci-low``) or on groups. Several subjects at once (alpha is per subject). Answers
that are themselves random (sampling at temperature > 0) are covered when they do not depend on
the order: the population is then the answers this run would get, and the full run is the one
with those answers. For 0/1 outcomes the sums are exact integers; fractional scores are summed
in floats, exact up to rounding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = ["BET_CAP", "RULE", "SequentialGate", "Verdict", "replay", "stop_reason"]

Verdict = Literal["pass", "fail"]

RULE = "wor-betting-agrapa/1"
"""Names the rule and its stakes in a saved state, so that a state is never resumed by another."""

BET_CAP = 0.5
"""The most a bet may lose in one step, as a share of the wealth: each factor is >= 1 - BET_CAP."""

_EDGE = 1e-9
"""No bet while the hypothesised mean of what is left is within this of 0 or 1: the subject is
then all but decided by certainty, and the caps BET_CAP / m stay finite (<= BET_CAP * 10**9)."""


class SequentialGate:
    """The early-stopping state of one subject's gate ``score >= threshold`` over ``total`` samples.

    Feed each outcome in [0, 1] with ``update`` in the seeded random order; ``verdict`` is None
    until the full run's verdict is known at level ``alpha``, then "pass" or "fail" for good.
    Outcomes that arrive after the verdict (answers already in flight) are counted in ``asked``
    and leave the verdict alone. Pure arithmetic: the same outcomes give the same state, and
    ``to_dict`` / ``from_dict`` round-trip it exactly through JSON.
    """

    __slots__ = ("threshold", "alpha", "total", "_asked", "_sum", "_squares", "_e_pass", "_e_fail",
                 "_verdict", "_stopped_at")

    def __init__(self, threshold: float, alpha: float, total: int) -> None:
        self.threshold = _number("threshold", threshold)
        self.alpha = _number("alpha", alpha)
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha: expected a level strictly between 0 and 1, got {alpha!r}")
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total: expected the number of samples, an integer >= 1, got {total!r}")
        self.total = total
        self._asked = 0
        self._sum: float = 0  # an int while the outcomes are ints, so 0/1 sums are exact
        self._squares = 0.0  # sum of (X_i - mu_hat_i)^2, for the running variance
        self._e_pass = self._e_fail = 1.0
        self._verdict: Verdict | None = None
        self._stopped_at: int | None = None
        self._settle()

    @property
    def verdict(self) -> Verdict | None:
        """None while undecided; then "pass" or "fail", never changed again."""
        return self._verdict

    @property
    def asked(self) -> int:
        """How many outcomes have been fed, including those that arrived after the verdict."""
        return self._asked

    @property
    def stopped_at(self) -> int | None:
        """``asked`` when the verdict was reached (0 for a threshold decided before any sample)."""
        return self._stopped_at

    @property
    def e_pass(self) -> float:
        """The wealth K+ of the bet on "pass"; the verdict is "pass" once it reaches 1/alpha."""
        return self._e_pass

    @property
    def e_fail(self) -> float:
        """The wealth K- of the bet on "fail"; the verdict is "fail" once it reaches 1/alpha."""
        return self._e_fail

    def update(self, outcome: float) -> Verdict | None:
        """Take the next outcome in the seeded order and return the verdict (None: keep asking)."""
        x = _outcome(outcome)
        if self._asked >= self.total:
            raise ValueError(f"outcome: all {self.total} samples were already counted")
        if self._verdict is None:
            self._bet(x)
        self._asked += 1
        self._sum += x
        if self._verdict is None:
            self._squares += (x - self._mean_estimate()) ** 2
            self._settle()
        return self._verdict

    def _bet(self, x: float) -> None:
        """Multiply both wealths by this step's factors, with stakes fixed before ``x`` is seen."""
        remaining = self.total - self._asked
        m = (self.total * self.threshold - self._sum) / remaining  # m_t(c): the rest's mean if mu = c
        if not _EDGE < m < 1 - _EDGE:
            return
        d = self._mean_estimate() - m
        variance = (0.25 + self._squares) / (self._asked + 1)
        stake = d / (variance + d * d)
        if stake > 0:
            self._e_pass *= 1 + min(stake, BET_CAP / m) * (x - m)
        elif stake < 0:
            self._e_fail *= 1 - min(-stake, BET_CAP / (1 - m)) * (x - m)

    def _mean_estimate(self) -> float:
        """mu_hat after ``asked`` outcomes: their mean, with one pseudo-outcome at the threshold."""
        return (self.threshold + self._sum) / (self._asked + 1)

    def _settle(self) -> None:
        """Reach a verdict if the data make one certain, or if a bet has reached 1/alpha."""
        if self._sum / self.total >= self.threshold or self._e_pass >= 1 / self.alpha:
            self._verdict = "pass"
        elif self._fails_even_if_all_the_rest_score_1() or self._e_fail >= 1 / self.alpha:
            self._verdict = "fail"
        if self._verdict is not None:
            self._stopped_at = self._asked

    def _fails_even_if_all_the_rest_score_1(self) -> bool:
        """Whether the full run fails whatever is left. The largest sum the run can still reach is
        this sum with a 1 added per sample left, in the order the full run adds them; in floats
        ``sum + left`` can round differently from those additions (0.0193 + 4 - 3 is not
        0.0193 + 1), so a near tie is settled by doing the additions. Exact for 0/1 outcomes."""
        left = self.total - self._asked
        most = self._sum + left
        if isinstance(most, int) or abs(most / self.total - self.threshold) > 1e-9:
            return most / self.total < self.threshold
        most = self._sum
        for _ in range(left):
            most += 1
        return most / self.total < self.threshold

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (finite floats, ints, strings, None) that ``from_dict`` restores exactly."""
        return {"rule": RULE, "threshold": self.threshold, "alpha": self.alpha, "total": self.total,
                "asked": self._asked, "sum": self._sum, "squares": self._squares, "e_pass": self._e_pass,
                "e_fail": self._e_fail, "verdict": self._verdict, "stopped_at": self._stopped_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequentialGate:
        """The state ``to_dict`` wrote; ValueError naming the first field that is not one."""
        if data.get("rule") != RULE:
            raise ValueError(f"rule: expected {RULE!r}, got {data.get('rule')!r}")
        settings: tuple[Any, Any, Any] = (data.get("threshold"), data.get("alpha"), data.get("total"))
        gate = cls(*settings)  # checks them
        gate._asked = _count(data, "asked", 0, gate.total)
        gate._sum = _field_number(data, "sum", 0, gate._asked)
        gate._squares = float(_field_number(data, "squares", 0, math.inf))
        gate._e_pass = float(_field_number(data, "e_pass", 0, math.inf))
        gate._e_fail = float(_field_number(data, "e_fail", 0, math.inf))
        verdict = data.get("verdict")
        if verdict not in ("pass", "fail", None):
            raise ValueError(f"verdict: expected 'pass', 'fail' or null, got {verdict!r}")
        gate._verdict = verdict
        stopped = data.get("stopped_at")
        gate._stopped_at = None if stopped is None else _count(data, "stopped_at", 0, gate._asked)
        if (verdict is None) != (stopped is None):
            raise ValueError(f"stopped_at: expected a count exactly when there is a verdict, got {stopped!r}")
        return gate


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def _outcome(value: object) -> float:
    """An outcome in [0, 1]. Integers (bool and numpy's integer types too) become ``int``, so 0/1
    sums are exact; other real numbers become ``float``."""
    x = int(value) if isinstance(value, numbers.Integral) else float(value) if isinstance(value, numbers.Real) else None
    if x is None or not 0 <= x <= 1:
        raise ValueError(f"outcome: expected a score from 0 to 1, got {value!r}")
    return x


def _count(data: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key}: expected an integer from {low} to {high}, got {value!r}")
    return value


def _field_number(data: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{key}: expected a number from {low} to {high}, got {value!r}")
    return value


def replay(outcomes: Iterable[float | None], threshold: float, alpha: float, total: int) -> SequentialGate:
    """The gate after the outcomes of a subject's samples in their seeded order, up to the first
    one without an outcome (None: not asked, or an error) or the verdict, whichever comes first.

    What the run's stopping did, done again from its results alone: the same in every process, on
    the controller and after ``pytest-llmeval merge``, so no gate state has to be carried."""
    gate = SequentialGate(threshold, alpha, total)
    for outcome in outcomes:
        if outcome is None or gate.verdict is not None:
            break
        gate.update(outcome)
    return gate


def stop_reason(gate: SequentialGate) -> str:
    """The skip reason of the samples not asked once ``gate`` knew its verdict."""
    return f"stopped early at n={gate.stopped_at} (verdict {gate.verdict} at alpha {gate.alpha:g})"
