"""Per-sample results become summary rows: one per (model, suite, subject) and per group.

Pure computation over payloads, so it runs the same on the controller with or without xdist and
on results merged from shards. The output depends only on the set of inputs, never on the order
in which reports arrived: rows are sorted by suite, then name, then model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .latency_gates import gate_failures
from .latency import LatencyRow, latency_rows
from ..samples import seeded_rank
from .payload import SampleResult, last_per_sample
from .sequential import replay
from .stats import naive_interval, naive_mean_interval, wilson_interval
from .usage import UsageRow, usage_rows

__all__ = ["Row", "Summary", "aggregate"]

_TOLERANCE = 1e-12
_Key = tuple[str, str, str]  # (model, suite, subject or group)
_Samples = list[SampleResult]


@dataclass(frozen=True, slots=True)
class Row:
    """One summary row. ``score``, ``ci_low`` and ``ci_high`` are None when nothing was scored.

    ``unparsed`` counts the scored replies from which no answer could be read, and
    ``unparsed_share`` is that count over ``n``; both are None where no answer is read from a
    reply (Python tests). ``statistic`` is how ``score`` was formed: ``proportion`` (``correct`` /
    ``n`` with Wilson's interval) or ``mean`` (the mean of graded per-sample scores with a
    bootstrap interval; ``correct`` then counts the samples that reached the suite's pass mark). ``max_unparsed`` is the limit on the share (subjects only; None: none)
    and ``unparsed_passed`` whether the share is within it.
    """

    kind: str  # "subject" | "group"
    model: str
    suite: str
    name: str
    version: str
    metric: str
    task: str
    mode: str
    n: int
    correct: int
    errors: int
    score: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float | None
    passed: bool
    unparsed: int | None = None
    unparsed_share: float | None = None
    max_unparsed: float | None = None
    unparsed_passed: bool = True
    statistic: str = "proportion"  # "proportion" (right / n, Wilson) or "mean" (graded scores, bootstrap)
    # Groups only: how ``score`` was formed, both scores, and the member subjects seen.
    aggregate: str | None = None
    score_weighted: float | None = None
    score_naive: float | None = None
    members: tuple[str, ...] = ()
    # Every metric the samples computed besides the gated one (``mode: cloze``: acc, acc_norm, ...):
    # each one's mean over the scored samples (a naive group: over its members' means).
    metrics: dict[str, float] = field(default_factory=dict)
    # Samples deliberately not sent (``errors.NotAsked``) are not in ``n``: ``asked`` of ``total``
    # were. ``incomplete`` is the first reason of one whose subject is not complete without it (a
    # budget reached): such a row never passes its threshold, and the run is not green.
    asked: int = 0
    total: int = 0
    incomplete: str | None = None
    stopped_early_at: int | None = None  # --llm-early-stop: the n at which the verdict was known

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.name}"

    def to_record(self) -> dict[str, Any]:
        """The results.json row (PRODUCT.md's fields, then metric, mode, task, errors and unparsed)."""
        return {
            "model": self.model, "suite": self.suite, self.kind: self.name, "version": self.version,
            "n": self.n, "correct": self.correct, "score": self.score,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "threshold": self.threshold, "passed": self.passed,
            "metric": self.metric, "mode": self.mode, "task": self.task, "errors": self.errors,
            "unparsed": self.unparsed, "unparsed_share": self.unparsed_share, "max_unparsed": self.max_unparsed,
            "unparsed_passed": self.unparsed_passed, "statistic": self.statistic,
            "asked": self.asked, "total": self.total, "incomplete": self.incomplete,
            "stopped_early_at": self.stopped_early_at,
        } | ({"metrics": dict(self.metrics)} if self.metrics else {}) | ({} if self.kind == "subject" else {
            "aggregate": self.aggregate, "score_weighted": self.score_weighted, "score_naive": self.score_naive,
            "members": list(self.members),
        })


@dataclass(slots=True)
class Summary:
    """Everything the verdict and the reports need. ``errors`` and ``models`` are in row order."""

    subjects: list[Row] = field(default_factory=list)
    groups: list[Row] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    errors: list[SampleResult] = field(default_factory=list)
    fatal: str | None = None
    latency: list[LatencyRow] = field(default_factory=list)  # per model, in model order
    latency_failures: list[str] = field(default_factory=list)  # unmet latency gates, one line each
    usage: list[UsageRow] = field(default_factory=list)  # tokens and cost per model, in model order
    gate: str = "score"  # what thresholds were checked against: "score" or "ci_low"

    @property
    def rows(self) -> list[Row]:
        return self.subjects + self.groups


def aggregate(results: Iterable[SampleResult], models: Sequence[str] | None = None,
              latency_gates: Mapping[str, float] | None = None, gate: str = "score",
              max_unparsed: float | None = None, prices: Mapping[str, Mapping[str, Any]] | None = None) -> Summary:
    """Summarise payloads. A repeated (model, suite, subject, id) keeps the last one (a retried item).

    Models are ordered as in ``models`` (the run's ``--llm-model`` order); any others follow, sorted.
    ``latency_gates`` are the run's own (``--llm-latency``); suites' gates ride in the payloads.
    ``gate`` is what a threshold is checked against: the ``score`` or ``ci_low``, the lower bound
    of its 95% interval (passes only when the score is above the threshold with confidence).
    ``max_unparsed`` is the run's limit on every subject's unparsed share (``--llm-max-unparsed``);
    a suite's own ``max_unparsed`` rides in the payloads, and the stricter of the two applies.
    ``prices`` maps a model onto its profile's price, for the cost of its tokens (``usage``).
    """
    latest = last_per_sample(results)
    order = _model_order(models or [], {r.model for r in latest})
    rank = {m: i for i, m in enumerate(order)}
    unique = sorted(latest, key=lambda r: (rank[r.model], r.suite, r.subject, r.id))
    subjects, groups = _buckets(unique)
    errors = [r for r in unique if r.error is not None or r.fatal]
    fatal = next((r.error or "fatal backend error" for r in errors if r.fatal), None)
    return Summary(
        subjects=[_unparsed_gated(_stopped(_gated(row, gate), subjects[(row.model, row.suite, row.name)]),
                                  subjects[(row.model, row.suite, row.name)], max_unparsed)
                  for row in _rows("subject", subjects, rank, _subject_version, _subject_threshold)],
        groups=[_gated(_grouped(row, groups[(row.model, row.suite, row.name)]), gate)
                for row in _rows("group", groups, rank, _group_version, _group_threshold)],
        models=order, errors=errors, fatal=fatal, latency=latency_rows(unique, order),
        latency_failures=gate_failures(unique, latency_gates, order), gate=gate,
        usage=usage_rows(unique, order, prices),
    )


def _model_order(given: Sequence[str], seen: set[str]) -> list[str]:
    first = list(dict.fromkeys(m for m in given if m in seen))
    return first + sorted(seen - set(first))


def _buckets(results: _Samples) -> tuple[dict[_Key, _Samples], dict[_Key, _Samples]]:
    subjects: dict[_Key, _Samples] = {}
    groups: dict[_Key, _Samples] = {}
    for r in results:
        subjects.setdefault((r.model, r.suite, r.subject), []).append(r)
        for group in dict.fromkeys(r.groups):
            groups.setdefault((r.model, r.suite, group), []).append(r)
    return subjects, groups


def _rows(
    kind: str,
    buckets: dict[_Key, _Samples],
    rank: dict[str, int],
    version: Callable[[_Samples], str],
    threshold: Callable[[str, _Samples], float | None],
) -> list[Row]:
    keys = sorted(buckets, key=lambda k: (k[1], k[2], rank[k[0]]))
    return [_row(kind, key, buckets[key], version(buckets[key]), threshold(key[2], buckets[key])) for key in keys]


def _row(kind: str, key: _Key, samples: _Samples, version: str, threshold: float | None) -> Row:
    model, suite, name = key
    points = _points(samples)
    n = len(points)
    correct = sum(r.correct is True for r in samples)
    statistic = _statistic(samples)
    score, (low, high) = _estimate(statistic, points, correct)
    unparsed = _unparsed(samples)
    return Row(
        kind=kind, model=model, suite=suite, name=name, version=version,
        metric=_joined(r.metric for r in samples), task=_joined(r.task for r in samples),
        mode=_joined(r.mode for r in samples),
        n=n, correct=correct, errors=sum(r.error is not None for r in samples), score=score,
        ci_low=_finite(low), ci_high=_finite(high), threshold=threshold, passed=True,
        unparsed=unparsed, unparsed_share=unparsed / n if unparsed is not None and n else None,
        statistic=statistic, metrics=_metric_means(samples),
        asked=sum(r.not_asked is None for r in samples), total=len(samples),
        incomplete=next((r.not_asked for r in samples if r.not_asked is not None and not r.not_asked_complete), None),
    )


def _metric_means(samples: _Samples) -> dict[str, float]:
    """Each per-sample metric's mean over the scored samples that computed it, in name order."""
    sums: dict[str, list[float]] = {}
    for r in samples:
        if r.correct is not None:
            for name, value in r.metrics.items():
                sums.setdefault(name, []).append(value)
    return {name: math.fsum(values) / len(values) for name, values in sorted(sums.items())}


def _points(samples: _Samples) -> list[float]:
    return [p for p in (r.points() for r in samples) if p is not None]


def _statistic(samples: _Samples) -> str:
    """``mean`` when any sample is graded (a group may mix graded and right/wrong subjects: a
    right/wrong sample is then a score of 1 or 0 in the mean), else ``proportion``."""
    return "mean" if any(r.aggregate == "mean" for r in samples) else "proportion"


def _estimate(statistic: str, points: list[float], correct: int) -> tuple[float | None, tuple[float, float]]:
    """The score and its 95% interval: right / n with Wilson's interval for right/wrong samples,
    the mean with the seeded BCa bootstrap (``bootstrap.py``) for graded ones."""
    if statistic == "proportion":
        return (correct / len(points) if points else None), wilson_interval(correct, len(points))
    from .bootstrap import bootstrap_interval, mean_score

    return (mean_score(points) if points else None), bootstrap_interval(points)


def _unparsed(samples: _Samples) -> int | None:
    """How many scored replies had no readable answer; None when no sample was read by a rule
    at all (Python tests decide right and wrong themselves), so no share is claimed for them."""
    if not any(r.rule is not None for r in samples):
        return None
    return sum(r.unparsed and r.correct is not None for r in samples)


def _unparsed_gated(row: Row, samples: _Samples, run_limit: float | None) -> Row:
    """The subject's limit on its unparsed share (the stricter of the suite's and the run's) and
    whether the share keeps to it. A row with no share (nothing read by a rule) is not gated."""
    limit = _lowest([*(r.max_unparsed for r in samples), run_limit])
    within = limit is None or row.unparsed_share is None or row.unparsed_share <= limit + _TOLERANCE
    return replace(row, max_unparsed=limit, unparsed_passed=within)


def _grouped(row: Row, samples: _Samples) -> Row:
    """The group row with both aggregations; ``score`` and its interval follow the group's choice."""
    members: dict[str, _Samples] = {}
    for r in samples:
        members.setdefault(r.subject, []).append(r)
    scored = [points for points in map(_points, members.values()) if points]
    naive = math.fsum(math.fsum(p) / len(p) for p in scored) / len(scored) if scored else None
    choice = "naive" if any(r.group_aggregates.get(row.name) == "naive" for r in samples) else "weighted"
    fields: dict[str, Any] = {"aggregate": choice, "score_weighted": row.score, "score_naive": naive,
                              "members": tuple(sorted(members))}
    if choice == "naive":
        low, high = (naive_interval([(int(sum(p)), len(p)) for p in scored]) if row.statistic == "proportion"
                     else naive_mean_interval(scored))
        fields |= {"score": naive, "ci_low": _finite(low), "ci_high": _finite(high),
                   "metrics": _naive_metrics(samples)}
    return replace(row, **fields)


def _naive_metrics(samples: _Samples) -> dict[str, float]:
    """Each per-sample metric as the mean of the member subjects' means (a naive group's)."""
    per_subject: dict[str, _Samples] = {}
    for r in samples:
        per_subject.setdefault(r.subject, []).append(r)
    means = [_metric_means(members) for members in per_subject.values()]
    names = sorted({name for found in means for name in found})
    return {name: math.fsum(m[name] for m in means if name in m) / sum(name in m for m in means) for name in names}


def _gated(row: Row, gate: str) -> Row:
    """``passed`` against the threshold, for the score or (``ci_low``) the interval's lower bound.
    An incomplete row never passes: what was not asked could have changed its verdict."""
    value = row.ci_low if gate == "ci_low" else row.score
    passed = row.threshold is None or (value is not None and value >= row.threshold - _TOLERANCE)
    passed = passed and row.incomplete is None
    return replace(row, passed=passed)


def _stopped(row: Row, samples: _Samples) -> Row:
    """A subject stopped early (``--llm-early-stop``) takes its verdict from the sequential rule,
    replayed over its answers in the seeded order it asked them (``sequential.replay``): the score
    of the samples asked is not the full run's, but the rule's verdict is, at level alpha. A subject
    that was asked in full keeps the score's verdict."""
    alpha = next((r.early_stop for r in samples if r.early_stop is not None), None)
    if alpha is None or row.threshold is None or row.incomplete is not None or row.asked == row.total:
        return row
    ordered = sorted(samples, key=lambda r: seeded_rank(r.suite, r.subject, r.id))
    outcomes = (r.points() if r.not_asked is None and r.error is None else None for r in ordered)
    stop = replay(outcomes, row.threshold, alpha, len(samples))
    if stop.verdict is None:  # asked only in part, yet undecided: it cannot pass
        return replace(row, passed=False)
    return replace(row, passed=stop.verdict == "pass", stopped_early_at=stop.stopped_at)


def _joined(values: Iterable[str]) -> str:
    """One value, or (when merged shards disagree) the distinct values sorted and joined by '+'."""
    return "+".join(sorted(set(values)))


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _subject_version(samples: _Samples) -> str:
    return _joined(r.version for r in samples)


def _group_version(samples: _Samples) -> str:
    """A short sha256 of the members' sorted ``subject:version`` pairs; changes with either."""
    members = sorted({f"{r.subject}:{r.version}" for r in samples})
    return hashlib.sha256("\n".join(members).encode()).hexdigest()[:8]


def _subject_threshold(name: str, samples: _Samples) -> float | None:
    return _strictest(r.threshold for r in samples)


def _group_threshold(name: str, samples: _Samples) -> float | None:
    return _strictest(r.group_thresholds.get(name) for r in samples)


def _lowest(values: Iterable[float | None]) -> float | None:
    """The strictest of several limits (the suite's, the run's; shards that disagree); None: no limit."""
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _strictest(values: Iterable[float | None]) -> float | None:
    """Samples of one row carry one threshold; should merged shards disagree, the highest applies."""
    known = [v for v in values if v is not None]
    return max(known) if known else None
