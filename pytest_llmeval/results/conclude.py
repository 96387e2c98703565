"""From the run's sample results to everything decided about it: summary, baseline comparison,
flips and the verdict's lines.

The controller calls this at ``pytest_sessionfinish``; ``pytest-llmeval merge`` calls it on the
samples of several shards. One function for both is what makes merged shards give exactly the
verdict of one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..ranges import default
from .aggregate import Summary, aggregate
from .baseline import Baseline, BaselineError, load_baseline
from .corpus import corpus_rows
from .examples import example_notes, example_rows
from .pairwise import PairwiseRow, failure_lines, pairwise_rows
from .circular import CircularRow, by_question, circular_rows, questions
from .perturb import PerturbRow, consistency_failures, perturb_rows
from .compare import Comparison, compare, regression_line
from .payload import SampleResult, last_per_sample
from .usage import money
from .verdict import failures

__all__ = ["Conclusion", "Settings", "accept_baseline", "conclude"]


@dataclass(frozen=True, slots=True)
class Settings:
    """What decides a run besides its samples: the one record of them.

    The controller builds it from the run's options, ``to_record`` writes it into results.json
    ``run.options``, and ``pytest-llmeval merge`` reads it back with ``from_record`` and refuses
    shards whose records differ (``RECORDED``): shards that decided differently are not one run.
    ``limit`` and ``strict`` decide which samples run and what a miss is, so they are recorded
    and compared too, though the conclusion does not read them.
    """

    models: tuple[str, ...] = ()
    latency_gates: Mapping[str, float] = field(default_factory=dict)
    gate: str = "score"
    max_unparsed: float | None = None  # --llm-max-unparsed: every subject's limit on its unparsed share
    baseline: Path | None = None
    update_baseline: bool = False
    regression_tolerance: float = field(default_factory=lambda: default("regression_tolerance"))
    regression_significance: float = field(default_factory=lambda: default("regression_significance"))
    limit: int | None = None
    strict: bool = False
    sharded: bool = False  # one job of several: it never writes a baseline (recorded as run.options.shard)
    prices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # model -> its profile's price

    RECORDED: ClassVar[tuple[str, ...]] = (
        "models", "gate", "regression_tolerance", "regression_significance", "latency_gates", "baseline",
        "update_baseline", "limit", "strict", "max_unparsed", "prices",
    )

    def to_record(self) -> dict[str, Any]:
        """The settings as results.json ``run.options`` holds them (JSON values)."""
        return {
            "models": list(self.models), "gate": self.gate, "regression_tolerance": self.regression_tolerance,
            "regression_significance": self.regression_significance, "latency_gates": dict(self.latency_gates),
            "baseline": str(self.baseline) if self.baseline else None, "update_baseline": self.update_baseline,
            "limit": self.limit, "strict": self.strict, "max_unparsed": self.max_unparsed,
            "prices": {model: dict(price) for model, price in self.prices.items()},
        }

    @classmethod
    def from_record(cls, options: Mapping[str, Any]) -> Settings:
        """The settings a run recorded in results.json (``run.options``)."""
        baseline = options.get("baseline")
        return cls(
            models=tuple(options.get("models") or ()),
            latency_gates={str(k): float(v) for k, v in (options.get("latency_gates") or {}).items()},
            gate=options.get("gate") or "score",
            max_unparsed=float(options["max_unparsed"]) if options.get("max_unparsed") is not None else None,
            baseline=Path(baseline) if baseline else None,
            update_baseline=bool(options.get("update_baseline")),
            regression_tolerance=float(options.get("regression_tolerance", default("regression_tolerance"))),
            regression_significance=float(options.get("regression_significance", default("regression_significance"))),
            limit=int(options["limit"]) if options.get("limit") is not None else None,
            strict=bool(options.get("strict")),
            prices={str(m): dict(p) for m, p in (options.get("prices") or {}).items()},
        )


@dataclass(slots=True)
class Conclusion:
    summary: Summary
    samples: list[SampleResult]  # one per (model, suite, subject, id), the last reported
    failures: list[str]
    # what the summary, the baseline and the comparison count: ``samples`` with each circular
    # question's rotations made one result (``results/circular.py``); the samples themselves otherwise
    scored: list[SampleResult] = field(default_factory=list)
    circular: list[CircularRow] = field(default_factory=list)
    perturb: list[PerturbRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth saying, not failing: not comparable, written
    baseline: Baseline | None = None
    comparison: Comparison | None = None
    pairwise: list[PairwiseRow] = field(default_factory=list)  # --llm-judge-pairwise, per subject
    corpus: list[dict[str, Any]] = field(default_factory=list)  # corpus BLEU/chrF beside the means (results.corpus)
    examples: list[dict[str, Any]] = field(default_factory=list)  # property tests' failing examples (results.examples)
    write_baseline: bool = False  # whether accept_baseline should write the file
    obtained: Path | None = None  # where to leave this run's baseline for diffing, when it differs

    @property
    def passed(self) -> bool:
        return not self.failures


def conclude(results: Iterable[SampleResult], settings: Settings) -> Conclusion:
    samples = last_per_sample(results)
    scored = questions(samples)
    summary = aggregate(scored, models=settings.models, latency_gates=settings.latency_gates, gate=settings.gate,
                        max_unparsed=settings.max_unparsed, prices=settings.prices)
    unasked = _unasked(samples)
    conclusion = Conclusion(summary=summary, samples=samples, failures=failures(summary, unasked), scored=scored,
                            circular=circular_rows(samples, summary.models),
                            perturb=perturb_rows(by_question(samples)[1], summary.models), corpus=corpus_rows(samples))
    conclusion.notes.extend(f"corpus {c['metric']} {c['model']} {c['suite']}/{c['subject']}: {c['corpus']:.4f} "
                            f"over {c['n']} samples ({c['signature']}); the score is the mean per-sample value"
                            for c in conclusion.corpus)
    conclusion.notes.extend(_incomplete(conclusion.circular))
    conclusion.examples = example_rows(samples)
    conclusion.notes.extend(example_notes(conclusion.examples))
    conclusion.failures[:0] = _not_asked_lines(unasked, summary)
    conclusion.failures.extend(consistency_failures(conclusion.perturb))
    if settings.baseline is not None and not _stopped_early(conclusion, settings, settings.baseline):
        _against_baseline(conclusion, settings, settings.baseline)
    return conclusion


def _stopped_early(conclusion: Conclusion, settings: Settings, path: Path) -> bool:
    """A run that stopped subjects early (``--llm-early-stop``) holds part of their samples, chosen
    by the rule: like a shard's, it is never written as a baseline, and it is not compared with one
    (the paired test would see the samples asked, not the subject). One line says so; it fails the
    run only when a baseline update was asked for."""
    stopped = [r for r in conclusion.summary.subjects if r.stopped_early_at is not None]
    if not stopped:
        return False
    line = (f"baseline {path} not {'written' if settings.update_baseline else 'compared'}: {len(stopped)} subject(s) "
            f"stopped early (--llm-early-stop, first: {stopped[0].model} {stopped[0].label}); run without it to "
            f"{'update' if settings.update_baseline else 'compare'}")
    (conclusion.failures if settings.update_baseline else conclusion.notes).append(line)
    return True


def _unasked(samples: list[SampleResult]) -> dict[str, int]:
    """How many samples each reason left unasked with their subjects incomplete (a budget reached)."""
    counts: dict[str, int] = {}
    for r in samples:
        if r.not_asked is not None and not r.not_asked_complete:
            counts[r.not_asked] = counts.get(r.not_asked, 0) + 1
    return counts


def _not_asked_lines(counts: dict[str, int], summary: Summary) -> list[str]:
    """One line per reason samples were left unasked with their subjects incomplete (a budget
    reached), first among the failures, counting the subjects it left incomplete (which get no line
    of their own): ``the run's budget of 1,000 tokens was reached after this run sent 987 tokens:
    12 samples not asked, 3 subjects incomplete``."""
    if not counts:
        return []
    sent = sum(u.sent_prompt_tokens + u.sent_completion_tokens for u in summary.usage)
    costs: dict[str, float] = {}
    for u in summary.usage:
        if u.currency is not None and u.sent_cost is not None:
            costs[u.currency] = costs.get(u.currency, 0.0) + u.sent_cost
    spent = f"{sent:,} tokens" + "".join(f", {money(cost, currency)}" for currency, cost in sorted(costs.items()))
    subjects = {reason: sum(r.incomplete == reason for r in summary.subjects) for reason in counts}
    return [f"{reason} after this run sent {spent}: {n} sample{'s' if n != 1 else ''} not asked, "
            f"{subjects[reason]} subject{'s' if subjects[reason] != 1 else ''} incomplete "
            "(the journal keeps every answer: rerun with a larger budget to continue)"
            for reason, n in counts.items()]


def _incomplete(rows: list[CircularRow]) -> list[str]:
    """A circular question that ran only some of its rotations (``-k``, ``--deselect``) is scored
    over those: a weaker test than circular accuracy, which the run must say."""
    return [f"circular: {r.model} {r.suite}/{r.subject}: {r.incomplete} of {r.questions + r.errors} question(s) "
            "ran only some of their rotations; scored over the rotations that ran" for r in rows if r.incomplete]


def _against_baseline(conclusion: Conclusion, settings: Settings, path: Path) -> None:
    exists = path.exists()
    if exists:
        try:
            conclusion.baseline = load_baseline(path)
        except BaselineError as exc:
            if not settings.update_baseline:
                conclusion.failures.append(str(exc))
                return
            conclusion.notes.append(f"{exc}; replacing it")
    if conclusion.baseline is not None:
        conclusion.comparison = compare(conclusion.summary, conclusion.scored, conclusion.baseline,
                                        settings.regression_tolerance, settings.regression_significance)
        conclusion.notes.extend(_not_compared(conclusion.comparison))
        conclusion.pairwise = pairwise_rows(conclusion.samples, settings.regression_significance)
        conclusion.notes.extend(f"pairwise: {row.line()}" for row in conclusion.pairwise)
        if not settings.update_baseline:
            conclusion.failures.extend(failure_lines(conclusion.pairwise))
            conclusion.failures.extend(regression_line(c) for c in conclusion.comparison.regressions)
            if _differs(conclusion.comparison) and not settings.sharded and not conclusion.summary.errors:
                conclusion.obtained = obtained_path(path)
    if settings.sharded and not exists:
        conclusion.failures.append(f"baseline {path} does not exist; a shard does not write one: "
                                   "pytest-llmeval merge ... --update-baseline accepts the merged run")
    elif settings.update_baseline or not exists:
        _plan_write(conclusion, path, missing=not exists and not settings.update_baseline)


def obtained_path(path: Path) -> Path:
    """``baseline.json`` -> ``baseline.obtained.json``: pytest-regressions' habit of leaving what
    was obtained beside what was expected, to diff, or to accept by renaming."""
    return path.with_name(f"{path.stem}.obtained{path.suffix or '.json'}")


def _differs(comparison: Comparison) -> bool:
    return bool(comparison.regressions) or any(c.status == "not_comparable" for c in comparison.comparisons)


def _not_compared(comparison: Comparison) -> list[str]:
    return [f"not comparable: {c.model} {c.suite}/{c.name}" + (" [group]" if c.kind == "group" else "")
            + f": {c.reason}" for c in comparison.comparisons if c.status == "not_comparable"]


def _plan_write(conclusion: Conclusion, path: Path, missing: bool) -> None:
    """A baseline is written from a clean run only: a sample that errored has no correctness to
    accept, and a baseline missing it would quietly shrink every later comparison."""
    errors = conclusion.summary.errors
    if errors:
        conclusion.failures.append(f"baseline {path} not written: {len(errors)} sample(s) had backend errors; "
                                   "rerun (answered samples come from the journal), then update again")
        return
    if not conclusion.summary.rows:
        return
    conclusion.write_baseline = True
    if missing:  # pytest-regressions' habit: a missing baseline is written, and the run fails
        conclusion.failures.append(f"baseline {path} did not exist: written from this run; "
                                   "check it in and run again to compare")


def accept_baseline(conclusion: Conclusion, path: Path) -> None:
    """Write what ``conclude`` decided to write: the accepted baseline, or the obtained one beside
    it when this run differs from it; and say so in the notes."""
    from importlib.metadata import version

    from .baseline import updated_baseline, write_baseline

    document = updated_baseline(conclusion.baseline, conclusion.scored, conclusion.summary, version("pytest-llmeval"))
    if conclusion.write_baseline:
        write_baseline(path, document)
        conclusion.notes.append(f"baseline written: {path} ({len(conclusion.summary.subjects)} subject rows)")
    elif conclusion.obtained is not None:
        write_baseline(conclusion.obtained, document)
        conclusion.notes.append(f"this run's baseline: {conclusion.obtained} (diff it with {path}; "
                                "accept with --llm-update-baseline, or by renaming it)")
