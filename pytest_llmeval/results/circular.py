"""Circular evaluation's results: rotations meet again as questions (OpenCompass's CircularEval).

Each rotation of a question is its own sample in the journal, samples.jsonl and the reports; the
subject's score, its interval, its threshold, the baseline and the regression test all work on
*questions*, made here by ``questions``: a question is right only when every rotation is right
(OpenCompass's circular accuracy), so ``n`` counts questions. One rotation that errored makes the
question an error, never a miss (its answer under that rotation is unknown). A question missing
rotations (``-k rot0`` ran only some) is scored over the rotations that ran and counted as
``incomplete``, which the summary says. Beside it ``circular_rows`` reports, per model and
subject, plain accuracy over every rotation and the answer-position bias: the share of picks per
letter against the share of targets per letter, and their total variation distance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .payload import SampleResult
from .perturb import PERTURB, perturb_question

__all__ = ["CIRCULAR", "CircularRow", "by_question", "circular_rows", "questions"]

CIRCULAR = "circular"
_Key = tuple[str, str, str, str]  # (model, suite, subject, question)


def _is_variant(r: SampleResult) -> bool:
    return r.robustness in (CIRCULAR, PERTURB) and r.question is not None


def by_question(results: Iterable[SampleResult]) -> tuple[list[SampleResult | _Key], dict[_Key, list[SampleResult]]]:
    """The results in order, each variant (a rotation, a perturbation) replaced by its question's
    key (once), and each key's variants."""
    order: list[SampleResult | _Key] = []
    rotations: dict[_Key, list[SampleResult]] = {}
    for r in results:
        if not _is_variant(r):
            order.append(r)
            continue
        key = (r.model, r.suite, r.subject, str(r.question))
        if key not in rotations:
            rotations[key] = []
            order.append(key)
        rotations[key].append(r)
    return order, rotations


def questions(results: Iterable[SampleResult]) -> list[SampleResult]:
    """Each question's variants made one result (plain samples pass through unchanged): circular
    rotations by ``_question``, perturbations by ``perturb.perturb_question``."""
    order, rotations = by_question(results)
    return [item if isinstance(item, SampleResult) else _merged(item[3], rotations[item]) for item in order]


def _merged(question: str, variants: list[SampleResult]) -> SampleResult:
    if variants[0].robustness == PERTURB:
        return perturb_question(question, variants)
    return _question(question, variants)


def _question(question: str, rotations: list[SampleResult]) -> SampleResult:
    """Right when every rotation is; an error when any errored. The result shown for the question
    (its reply, extracted letter, node id) is the rotation that decided it: the first that errored,
    else the first that was wrong, else the first."""
    ordered = sorted(rotations, key=lambda r: _shift(r.variant))
    failed = next((r for r in ordered if r.error is not None), None)
    decider = failed or next((r for r in ordered if r.correct is False), ordered[0])
    base = replace(decider, id=question, variant=None, unparsed=any(r.unparsed for r in ordered),
                   fatal=any(r.fatal for r in ordered), retries=sum(r.retries for r in ordered))
    if failed is not None:
        base.error, base.correct, base.score = f"{failed.variant}: {failed.error}", None, None
        return base
    base.set_verdict(all(r.correct is True for r in ordered))
    return base


def _shift(variant: str | None) -> int:
    digits = (variant or "").removeprefix("rot")
    return int(digits) if digits.isdigit() else 0


@dataclass(frozen=True, slots=True)
class CircularRow:
    """One model's circular numbers for one subject (results.json ``circular``).

    ``questions`` were scored (``correct`` of them right under every rotation that ran:
    ``score``); ``errors`` had a rotation that errored; ``incomplete`` ran fewer rotations than
    planned. ``rotations`` scored replies, ``rotations_correct`` of them right (``accuracy``,
    plain accuracy over rotations). ``picks`` and ``targets`` are each letter's share of the
    parsed picks and of the scored rotations' right answers; ``bias`` is their total variation
    distance (0: picks spread like the answers; 1: always a letter that is never right).
    """

    model: str
    suite: str
    subject: str
    questions: int
    correct: int
    score: float | None
    errors: int
    incomplete: int
    rotations: int
    rotations_correct: int
    accuracy: float | None
    picks: dict[str, float]
    targets: dict[str, float]
    bias: float | None

    def to_record(self) -> dict[str, Any]:
        return {
            "model": self.model, "suite": self.suite, "subject": self.subject, "questions": self.questions,
            "correct": self.correct, "score": self.score, "errors": self.errors, "incomplete": self.incomplete,
            "rotations": self.rotations, "rotations_correct": self.rotations_correct, "accuracy": self.accuracy,
            "picks": dict(self.picks), "targets": dict(self.targets), "bias": self.bias,
        }


def circular_rows(results: Iterable[SampleResult], models: Sequence[str]) -> list[CircularRow]:
    """Per (model, suite, subject) with circular questions, in the summary's order."""
    _, rotations = by_question(results)
    subjects: dict[tuple[str, str, str], list[list[SampleResult]]] = {}
    for (model, suite, subject, _q), group in rotations.items():
        if group[0].robustness != CIRCULAR:
            continue
        subjects.setdefault((model, suite, subject), []).append(group)
    rank = {m: i for i, m in enumerate(models)}
    keys = sorted(subjects, key=lambda k: (k[1], k[2], rank.get(k[0], len(rank)), k[0]))
    return [_row(key, subjects[key]) for key in keys]


def _row(key: tuple[str, str, str], groups: list[list[SampleResult]]) -> CircularRow:
    merged = [_question(str(g[0].question), g) for g in groups]
    scored_questions = [q for q in merged if q.correct is not None]
    replies = [r for g in groups for r in g if r.correct is not None]
    right = sum(q.correct is True for q in scored_questions)
    plain = sum(r.correct is True for r in replies)
    picks = _shares(r.extracted for r in replies if r.extracted and not r.unparsed)
    targets = _shares(r.target for r in replies if r.target)
    letters = sorted(set(picks) | set(targets))
    bias = (round(sum(abs(picks.get(x, 0.0) - targets.get(x, 0.0)) for x in letters) / 2, 6)
            if picks and targets else None)
    return CircularRow(
        model=key[0], suite=key[1], subject=key[2], questions=len(scored_questions), correct=right,
        score=right / len(scored_questions) if scored_questions else None,
        errors=sum(q.error is not None for q in merged),
        incomplete=sum(len({r.variant for r in g}) < max(r.variants for r in g) for g in groups),
        rotations=len(replies), rotations_correct=plain, accuracy=plain / len(replies) if replies else None,
        picks=picks, targets=targets, bias=bias,
    )


def _shares(letters: Iterable[str | None]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for letter in letters:
        if letter:
            counts[letter] = counts.get(letter, 0) + 1
    total = sum(counts.values())
    return {letter: round(counts[letter] / total, 6) for letter in sorted(counts)}
