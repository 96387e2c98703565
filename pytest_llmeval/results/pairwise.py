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
from typing import Any

from ..scoring.judge import OUTCOMES
from .payload import SampleResult
from .stats import mcnemar_exact

__all__ = ["PairwiseRow", "PairwiseTally", "failure_lines", "pairwise_rows", "tally"]


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


@dataclass(frozen=True, slots=True)
class PairwiseRow:
    """One subject of one model judged against the baseline's replies (``--llm-judge-pairwise``).
    ``errors``: samples whose comparison the judge could not answer (the run measured less than
    asked, so it fails); ``regressed``: a significant loss."""

    model: str
    suite: str
    subject: str
    judge: str
    tally: PairwiseTally
    errors: int
    significance: float

    @property
    def regressed(self) -> bool:
        return self.tally.significant_loss(self.significance)

    def to_record(self) -> dict[str, Any]:
        t = self.tally
        return {"model": self.model, "suite": self.suite, "subject": self.subject, "judge": self.judge,
                "wins": t.wins, "ties": t.ties, "losses": t.losses, "unparsed": t.unparsed, "errors": self.errors,
                "p_value": t.p_value, "significance": self.significance, "regressed": self.regressed}

    def line(self) -> str:
        t = self.tally
        return (f"{self.model} {self.suite}/{self.subject} vs baseline (judge {self.judge}): {t.wins} wins, "
                f"{t.ties} ties, {t.losses} losses" + (f", {t.unparsed} unparsed" if t.unparsed else "")
                + f" (sign test p={t.p_value:.3g})")


def pairwise_rows(samples: Iterable[SampleResult], significance: float) -> list[PairwiseRow]:
    """Each subject's pairwise outcomes, from the samples that were compared with the baseline."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in samples:
        if r.pairwise is not None:
            grouped.setdefault((r.model, r.suite, r.subject), []).append(r.pairwise)
    rows = []
    for (model, suite, subject), records in grouped.items():
        judged = [p for p in records if "error" not in p]
        rows.append(PairwiseRow(model, suite, subject, str(records[0].get("judge", "")),
                                tally(str(p["outcome"]) for p in judged), len(records) - len(judged), significance))
    return rows


def failure_lines(rows: Iterable[PairwiseRow]) -> list[str]:
    """The verdict's lines: a significant loss is a regression; a comparison the judge could not
    make leaves the run unmeasured."""
    lines = []
    for row in rows:
        if row.regressed:
            lines.append(f"pairwise regression: {row.line()}")
        if row.errors:
            lines.append(f"pairwise judging failed for {row.errors} sample(s) of {row.model} "
                         f"{row.suite}/{row.subject}: the comparison is incomplete")
    return lines
