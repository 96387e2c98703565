"""Perturbation consistency's results: a question asked as it is and perturbed, met again.

The subject's score, interval, threshold and baseline count the *original* questions (variant
``orig``): perturbation is a test of robustness beside the score, not a change of what the score
means. A question whose original or any variant errored is an error (its consistency is unknown).
``perturb_rows`` reports per model and subject the accuracy on the originals, on the variants
(and per transform), and the consistency: the share of questions whose answer is the same in the
original and every variant. A multiple-choice answer is compared as the option it names, so a
shuffled variant that picks the same option under another letter is consistent; an unreadable
reply is an answer of its own (``None``). ``min_consistency`` (the suite's ``perturb:`` key) fails
the run when a subject's consistency is below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .payload import SampleResult

__all__ = ["PERTURB", "PerturbRow", "consistency_failures", "perturb_question", "perturb_rows"]

PERTURB = "perturb"
ORIGINAL = "orig"
_SHUFFLE = "shuffle_options:"


def perturb_question(question: str, variants: list[SampleResult]) -> SampleResult:
    """The original's result under the question's id; an error when any variant errored."""
    original = next((r for r in variants if r.variant == ORIGINAL), variants[0])
    failed = next((r for r in variants if r.error is not None), None)
    base = replace(original, id=question, variant=None, fatal=any(r.fatal for r in variants))
    if failed is not None:
        base.error, base.correct, base.score = f"{failed.variant}: {failed.error}", None, None
    return base


def answer_of(r: SampleResult) -> str | None:
    """The answer as the original question would name it: a shuffled variant's letter is mapped
    back through its permutation (``shuffle_options:CADB``: the letter at position i is ``CADB[i]``)."""
    if r.unparsed or r.extracted is None:
        return None
    variant = r.variant or ""
    if variant.startswith(_SHUFFLE) and len(r.extracted) == 1:
        shown = variant.removeprefix(_SHUFFLE)
        position = ord(r.extracted) - ord("A")
        return shown[position] if 0 <= position < len(shown) else r.extracted
    return r.extracted


def _transform(variant: str | None) -> str:
    return (variant or "").split(":")[0]


@dataclass(frozen=True, slots=True)
class PerturbRow:
    """One model's perturbation numbers for one subject (results.json ``perturb``).

    ``questions`` scored (none of their variants errored), ``errors`` not; ``original_correct``
    of the originals right (``original_accuracy``); ``variants`` perturbed replies scored,
    ``variants_correct`` right (``variant_accuracy``); ``by_transform``: each transform's
    accuracy; ``consistent`` questions answered alike everywhere (``consistency``), gated by
    ``min_consistency`` (``passed``)."""

    model: str
    suite: str
    subject: str
    questions: int
    errors: int
    original_correct: int
    original_accuracy: float | None
    variants: int
    variants_correct: int
    variant_accuracy: float | None
    by_transform: dict[str, float]
    consistent: int
    consistency: float | None
    min_consistency: float | None
    passed: bool

    def to_record(self) -> dict[str, Any]:
        return {
            "model": self.model, "suite": self.suite, "subject": self.subject, "questions": self.questions,
            "errors": self.errors, "original_correct": self.original_correct,
            "original_accuracy": self.original_accuracy, "variants": self.variants,
            "variants_correct": self.variants_correct, "variant_accuracy": self.variant_accuracy,
            "by_transform": dict(self.by_transform), "consistent": self.consistent, "consistency": self.consistency,
            "min_consistency": self.min_consistency, "passed": self.passed,
        }


def perturb_rows(groups: dict[tuple[str, str, str, str], list[SampleResult]], models: Sequence[str]) -> list[PerturbRow]:
    """Per (model, suite, subject), from each question's variants (keyed by model, suite, subject, question)."""
    subjects: dict[tuple[str, str, str], list[list[SampleResult]]] = {}
    for (model, suite, subject, _q), variants in groups.items():
        if variants[0].robustness == PERTURB:
            subjects.setdefault((model, suite, subject), []).append(variants)
    rank = {m: i for i, m in enumerate(models)}
    keys = sorted(subjects, key=lambda k: (k[1], k[2], rank.get(k[0], len(rank)), k[0]))
    return [_row(key, subjects[key]) for key in keys]


def _row(key: tuple[str, str, str], questions: list[list[SampleResult]]) -> PerturbRow:
    clean = [q for q in questions if all(r.error is None for r in q)]
    originals = [r for q in clean for r in q if r.variant == ORIGINAL and r.correct is not None]
    perturbed = [r for q in clean for r in q if r.variant != ORIGINAL and r.correct is not None]
    transforms: dict[str, list[bool]] = {}
    for r in perturbed:
        transforms.setdefault(_transform(r.variant), []).append(r.correct is True)
    consistent = sum(len({answer_of(r) for r in q}) == 1 for q in clean)
    limit = next((r.min_consistency for q in questions for r in q if r.min_consistency is not None), None)
    consistency = consistent / len(clean) if clean else None
    return PerturbRow(
        model=key[0], suite=key[1], subject=key[2], questions=len(clean), errors=len(questions) - len(clean),
        original_correct=sum(r.correct is True for r in originals),
        original_accuracy=_share(sum(r.correct is True for r in originals), len(originals)),
        variants=len(perturbed), variants_correct=sum(r.correct is True for r in perturbed),
        variant_accuracy=_share(sum(r.correct is True for r in perturbed), len(perturbed)),
        by_transform={name: round(sum(v) / len(v), 6) for name, v in sorted(transforms.items())},
        consistent=consistent, consistency=consistency, min_consistency=limit,
        passed=limit is None or (consistency is not None and consistency >= limit - 1e-12),
    )


def _share(right: int, n: int) -> float | None:
    return right / n if n else None


def consistency_failures(rows: Iterable[PerturbRow]) -> list[str]:
    """One line per subject below its ``min_consistency`` (or with nothing to measure it on)."""
    return [f"consistency not met: {r.model} {r.suite}/{r.subject} "
            + (f"{r.consistency:.3f} < {r.min_consistency:.3f} ({r.consistent}/{r.questions} questions answered "
               "alike in every variant)" if r.consistency is not None
               else f"has no question without errors, needs {r.min_consistency:.3f}")
            for r in rows if not r.passed]
