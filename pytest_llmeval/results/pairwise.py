"""Pairwise judging against the baseline's replies: the subject's wins, ties and losses, and
whether the losses are more than chance.

The test is the sign test on the decided pairs: under "neither run's replies are better", each
pair that is not a tie is a win or a loss with probability ½, so p is the two-sided binomial tail
of min(wins, losses) out of wins + losses. That is McNemar's exact test on discordant pairs, which
the baseline comparison already uses for right/wrong flips: ``stats.mcnemar_exact`` computes both.
Ties carry no evidence either way and are left out of the test, as the sign test leaves them out;
unparsed pairs (either order without a verdict) are left out too, and counted, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..scoring.judge import OUTCOMES
from .stats import mcnemar_exact

__all__ = ["PairwiseTally", "tally"]


@dataclass(frozen=True, slots=True)
class PairwiseTally:
    """A subject's pairwise outcomes: this run's replies against the baseline's."""

    wins: int = 0
    ties: int = 0
    losses: int = 0
    unparsed: int = 0

    @property
    def p_value(self) -> float:
        """The sign test's two-sided p over wins and losses (1 when there are none)."""
        return mcnemar_exact(self.losses, self.wins)

    def significant_loss(self, significance: float) -> bool:
        """More losses than wins, with p below ``significance``: a regression."""
        return self.losses > self.wins and self.p_value < significance


def tally(outcomes: Iterable[str]) -> PairwiseTally:
    """Count ``combine_orders`` outcomes (``win``, ``tie``, ``loss``, ``unparsed``)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        if outcome not in counts:
            raise ValueError(f"unknown pairwise outcome {outcome!r} (expected one of {', '.join(OUTCOMES)})")
        counts[outcome] += 1
    return PairwiseTally(wins=counts["win"], ties=counts["tie"], losses=counts["loss"], unparsed=counts["unparsed"])
