"""This run against the accepted baseline: paired comparisons per subject and group, and flips.

A row regresses when, over the samples scored in both runs, its score drops by more than the
tolerance **and** McNemar's exact test on those pairs gives p below the significance level. A
graded row (``statistic`` ``mean``: ROUGE, a judge's scale, pass@1 over repeats) is tested the same
way by the paired sign-flip permutation test on the per-sample score differences, McNemar's test
generalised to scores (``stats.paired_permutation``). Pairing
is what makes small drops detectable: the same questions were asked twice, so only the samples
that flipped carry evidence, and an unpaired test (as lm-evaluation-harness uses) wastes it.

Rows whose version differs from the baseline's (prompt, few-shot, task, mode or data changed)
are "not comparable" and never compared: their scores measure different things.

Right -> wrong flips are split by what the reply is now: a wrong answer, or no readable answer at
all (unparsed). A model that stopped following the answer format regresses as surely as one that
forgot facts, but the fix is elsewhere (the prompt, the template, the stop strings), so the two
are counted apart and each flip says which it is (``now``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .aggregate import Row, Summary
from .baseline import Baseline, BaselineSubject
from .payload import SampleResult
from .stats import mcnemar_exact, paired_permutation

__all__ = ["Comparison", "Flip", "RowComparison", "compare", "regression_line"]

_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class _Pair:
    """One sample scored in both runs: right/wrong then and now, and the scores then and now
    (1 or 0 for a right/wrong task, the float of a graded one)."""

    subject: str
    was_right: bool
    is_right: bool
    unparsed: bool
    was: float
    now: float


_Pairs = list[_Pair]


@dataclass(frozen=True, slots=True)
class RowComparison:
    """One summary row against the baseline. ``status``: ``compared``, ``not_comparable`` (with the
    ``reason``: a version changed, a member is missing) or ``no_baseline``; the paired numbers are
    set only when compared. ``to_record`` is its results.json form (``comparisons``)."""

    kind: str
    model: str
    baseline_model: str | None
    suite: str
    name: str
    status: str = "compared"
    reason: str | None = None
    version: str = ""
    baseline_version: str | None = None
    n_paired: int | None = None
    baseline_score: float | None = None
    score: float | None = None
    delta: float | None = None
    right_to_wrong: int | None = None
    right_to_wrong_answer: int | None = None
    right_to_unparsed: int | None = None
    wrong_to_right: int | None = None
    p_value: float | None = None
    test: str | None = None  # "mcnemar" (right/wrong samples) or "permutation" (graded scores)
    significant: bool = False
    regressed: bool = False
    improved: bool = False

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Flip:
    """A sample right in one run and wrong in the other. ``now``: ``right``, ``wrong answer`` or
    ``unparsed`` (a right -> wrong flip that lost the answer format). ``to_record``: results.json ``flips``."""

    direction: str  # "right_to_wrong" | "wrong_to_right"
    now: str
    model: str
    baseline_model: str
    suite: str
    subject: str
    id: str
    prompt: str
    target: str | None
    reply: str | None
    extracted: str | None
    baseline_reply: str | None
    baseline_extracted: str | None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Comparison:
    comparisons: list[RowComparison] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)

    @property
    def regressions(self) -> list[RowComparison]:
        return [c for c in self.comparisons if c.regressed]


def compare(summary: Summary, results: Iterable[SampleResult], baseline: Baseline,
            tolerance: float, significance: float) -> Comparison:
    """One comparison per summary row (in row order) and every flipped sample."""
    by_subject: dict[tuple[str, str, str], list[SampleResult]] = {}
    for r in results:
        if r.correct is not None:
            by_subject.setdefault((r.model, r.suite, r.subject), []).append(r)
    versions = {(r.model, r.suite, r.name): r.version for r in summary.subjects}
    outcome = Comparison()
    for row in summary.rows:
        record, flips = _compare_row(row, by_subject, versions, baseline, tolerance, significance)
        outcome.comparisons.append(record)
        outcome.flips.extend(flips)
    rank = {m: i for i, m in enumerate(summary.models)}
    outcome.flips.sort(key=lambda f: (f.direction != "right_to_wrong", rank.get(f.model, len(rank)),
                                      f.suite, f.subject, _natural(f.id)))
    return outcome


def _compare_row(row: Row, by_subject: dict[tuple[str, str, str], list[SampleResult]],
                 versions: dict[tuple[str, str, str], str], baseline: Baseline,
                 tolerance: float, significance: float) -> tuple[RowComparison, list[Flip]]:
    base_model = baseline.model_for(row.model)
    record = RowComparison(kind=row.kind, model=row.model, baseline_model=base_model, suite=row.suite, name=row.name,
                           version=row.version)
    if base_model is None:
        return replace(record, status="no_baseline",
                       reason=f"model {row.model} is not in the baseline (it has {', '.join(sorted(baseline.models))})"), []
    record = replace(record, baseline_version=baseline.version(base_model, row.suite, row.kind, row.name))
    members = list(row.members) if row.kind == "group" else [row.name]
    entries = {m: baseline.subject(base_model, row.suite, m) for m in members}
    problem = _not_comparable(row, entries, versions)
    if problem is not None:
        status, reason = problem
        return replace(record, status=status, reason=reason), []
    pairs, flips = _paired(row, base_model, entries, by_subject)
    if not pairs:
        return replace(record, status="not_comparable", reason="no scored sample in common with the baseline"), []
    numbers = _paired_numbers(pairs, row.aggregate == "naive", row.statistic, tolerance, significance)
    return replace(record, **numbers), flips


def _paired(row: Row, base_model: str, entries: dict[str, BaselineSubject | None],
            by_subject: dict[tuple[str, str, str], list[SampleResult]]) -> tuple[_Pairs, list[Flip]]:
    """The samples scored in both runs, and (for a subject row) those that flipped."""
    pairs: _Pairs = []
    flips: list[Flip] = []
    for member, entry in entries.items():
        assert entry is not None  # _not_comparable returned None
        for r in by_subject.get((row.model, row.suite, member), []):
            was = entry.samples.get(r.id)
            if was is None:
                continue
            now = r.points()
            assert now is not None  # only scored samples are paired
            pairs.append(_Pair(member, was.correct, bool(r.correct), r.unparsed, was.points(), now))
            if was.correct != r.correct and row.kind == "subject":
                flips.append(_flip(r, base_model, was.correct, was.extracted, was.reply))
    return pairs, flips


def _not_comparable(row: Row, entries: dict[str, BaselineSubject | None],
                    versions: dict[tuple[str, str, str], str]) -> tuple[str, str] | None:
    """Why a row cannot be compared, or None. A group needs every member in the baseline, each
    under the version it has now; a subject needs its own."""
    missing = [m for m, e in entries.items() if e is None]
    if len(missing) == len(entries):
        return "no_baseline", "not in the baseline"
    if missing:
        return "not_comparable", f"member {missing[0]} is not in the baseline"
    for member, entry in entries.items():
        assert entry is not None
        now = versions.get((row.model, row.suite, member), "")
        if entry.version != now:
            what = "version" if row.kind == "subject" else f"member {member}: version"
            return "not_comparable", f"{what} {entry.version} in the baseline, {now} now"
    return None


def _paired_numbers(pairs: _Pairs, naive: bool, statistic: str, tolerance: float,
                    significance: float) -> dict[str, Any]:
    was = _score([(p.subject, p.was) for p in pairs], naive)
    now = _score([(p.subject, p.now) for p in pairs], naive)
    worse = sum(p.was_right and not p.is_right for p in pairs)
    unparsed = sum(p.was_right and not p.is_right and p.unparsed for p in pairs)
    better = sum(p.is_right and not p.was_right for p in pairs)
    graded = statistic == "mean"
    p = paired_permutation([q.now - q.was for q in pairs]) if graded else mcnemar_exact(worse, better)
    delta = now - was
    significant = p < significance
    return {
        "n_paired": len(pairs), "baseline_score": was, "score": now, "delta": delta,
        "right_to_wrong": worse, "right_to_wrong_answer": worse - unparsed, "right_to_unparsed": unparsed,
        "wrong_to_right": better, "p_value": p, "test": "permutation" if graded else "mcnemar",
        "significant": significant,
        "regressed": significant and delta < -tolerance - _TOLERANCE,
        "improved": significant and delta > tolerance + _TOLERANCE,
    }


def _score(outcomes: Sequence[tuple[str, float]], naive: bool) -> float:
    """Weighted: the mean score over the pairs (right / paired for right/wrong samples). Naive:
    the mean of the members' paired scores."""
    if not naive:
        return math.fsum(v for _, v in outcomes) / len(outcomes)
    per: dict[str, list[float]] = {}
    for subject, value in outcomes:
        per.setdefault(subject, []).append(value)
    return math.fsum(math.fsum(v) / len(v) for v in per.values()) / len(per)


def _flip(r: SampleResult, base_model: str, was_right: bool, was_extracted: str | None,
          was_reply: str | None) -> Flip:
    now = "right" if not was_right else "unparsed" if r.unparsed else "wrong answer"
    return Flip(direction="right_to_wrong" if was_right else "wrong_to_right", now=now, model=r.model,
                baseline_model=base_model, suite=r.suite, subject=r.subject, id=r.id, prompt=r.prompt,
                target=r.target, reply=r.reply, extracted=r.extracted, baseline_reply=was_reply,
                baseline_extracted=was_extracted)


def _natural(text: str) -> list[tuple[int, int | str]]:
    """Sample ids in human order: q2 before q10."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part]


def regression_line(c: RowComparison) -> str:
    assert c.baseline_score is not None and c.score is not None and c.delta is not None and c.p_value is not None
    where = f"{c.model} {c.suite}/{c.name}" + (" [group]" if c.kind == "group" else "")
    return (f"regression: {where} {c.baseline_score:.3f} -> {c.score:.3f} (delta {c.delta:+.3f}, "
            f"{_test_name(c)} p={c.p_value:.3g}, right->wrong {c.right_to_wrong}{_split(c)}, "
            f"wrong->right {c.wrong_to_right}, n={c.n_paired})")


def _test_name(c: RowComparison) -> str:
    return "paired permutation" if c.test == "permutation" else "McNemar"


def _split(c: RowComparison) -> str:
    """" (2 now unparsed)" when some right -> wrong flips lost their answer format rather than a fact."""
    unparsed = c.right_to_unparsed or 0
    return f" ({unparsed} now unparsed)" if unparsed else ""
