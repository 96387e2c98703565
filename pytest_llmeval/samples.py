"""The sample: the unit every later stage (prompts, scoring, results) works on.

Loaders turn rows of any format into these, so nothing downstream knows about CSV quirks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CHOICE_LABELS", "Sample", "seeded_rank"]

CHOICE_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Sample:
    """One dataset row, normalised.

    id:      the row's id field when the data has one, else its 0-based row index within the
             subject's file, as a string. Stable across runs: baselines pair samples by it.
    subject: the subject key (file stem for per-subject layouts, e.g. ``abstract_algebra``).
    fields:  every template variable of the row (``question``, ``A``..``D``, extra columns...).
    target:  the gold answer as found in the data (a letter for the standard multiple-choice
             layouts, the final number for gsm8k); ``None`` when the split carries no answers.
    choices: option texts in label order (A, B, C, ...); empty for non-choice data.
    origin:  where the row is, for messages: ``file:line`` (``file: row N`` where the format has
             no lines). Not part of the sample's identity: it never changes a version or an id.
    question: for a variant of a row (a rotation of its options, ``suites/variants.py``), the
             row's own id, shared by all its variants: results meet by it; None for a plain row.
    variant: which variant it is (``rot1``); ``variants``: how many the row was planned with.
    template: the prompt template this variant is asked with instead of the suite's
             (``perturb.prompt_variant``); None: the suite's.
    """

    id: str
    subject: str
    fields: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    choices: tuple[str, ...] = ()
    origin: str = field(default="", compare=False)
    question: str | None = None
    variant: str | None = None
    variants: int = 1
    template: str | None = None

    @property
    def labels(self) -> str:
        return CHOICE_LABELS[: len(self.choices)]


def seeded_rank(suite: str, subject: str, sample_id: str) -> int:
    """Where a sample comes in its subject's seeded random order: the crc32 of its identity.

    ``--llm-limit`` keeps the smallest ranks and ``--llm-early-stop`` asks in rank order, so both
    take a spread-out sample that is the same on every run and in every process, whatever order
    the data file is in (crc32, unlike ``hash()``, is not salted per process)."""
    return zlib.crc32(f"{suite}/{subject}/{sample_id}".encode())
