"""Variants of a sample, made at planning: each its own ``Sample`` (its own id, node id, journal
entry and result) that remembers the question it came from, so results meet again by question.

Circular evaluation (``circular:``, OpenCompass's CircularEval) asks a multiple-choice question
once per rotation of its options: rotation ``k`` puts the option that was at position ``i + k``
at position ``i``, so the right answer visits a different letter in every rotation. A model that
picks "A" when unsure, or that only knows the answer in one order, stops scoring by luck.
"""

from __future__ import annotations

from dataclasses import replace

from ..samples import Sample
from .schema import CircularConfig

__all__ = ["circular_variants", "rotate", "rotation_id"]


def rotation_id(question: str, shift: int) -> str:
    """``12`` rotated by 1 is ``12-rot1``: the node id carries the rotation, so ``-k rot0`` selects
    one rotation of every question and ``--deselect`` names one rotation of one question."""
    return f"{question}-rot{shift}"


def rotate(sample: Sample, shift: int, count: int) -> Sample:
    """The sample with its options rotated left by ``shift``: the option texts, the lettered fields
    (``{A}``..), and the answer (``target``, ``{answer}``, ``{target}``) follow; other columns stay."""
    labels, n = sample.labels, len(sample.choices)
    choices = tuple(sample.choices[(i + shift) % n] for i in range(n))
    assert sample.target is not None and sample.target in labels  # checked letters only reach here
    target = labels[(labels.index(sample.target) - shift) % n]
    fields = dict(sample.fields)
    fields.update(zip(labels, choices))
    fields.update({key: target for key in ("answer", "target") if key in fields})
    return replace(sample, id=rotation_id(sample.id, shift), fields=fields, target=target, choices=choices,
                   question=sample.id, variant=f"rot{shift}", variants=count)


def circular_variants(samples: list[Sample], circular: CircularConfig | None) -> list[Sample]:
    """Each sample followed by its rotations (the identity first); unchanged without ``circular:``."""
    if circular is None:
        return samples
    out: list[Sample] = []
    for sample in samples:
        count = circular.count(len(sample.choices))
        out.extend(rotate(sample, shift, count) for shift in range(count))
    return out
