"""The labelled corpus of real replies (tests/data/extraction_corpus.jsonl, see tests/data/README.md)
and the three figures issue 13 holds an answer reader to on it.

Shared by tests/test_extraction_corpus.py and benchmarks/extraction_peers.py, so the tests and the
comparison with OpenCompass and lm-evaluation-harness count alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CORPUS", "LETTERS", "Tally", "load_corpus", "tally"]

CORPUS = Path(__file__).resolve().parent / "data" / "extraction_corpus.jsonl"
LETTERS = "ABCD"
UNANSWERED = ("NONE", "AMBIGUOUS")


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(slots=True)
class Tally:
    """How a reader did: replies labelled with a letter read as it or as another letter, and
    replies labelled NONE or AMBIGUOUS read as unparsed (no letter)."""

    lettered: int = 0
    right: int = 0
    other_letter: int = 0
    unanswered: int = 0
    unparsed: int = 0

    def add(self, label: str, read: str | None) -> None:
        if label in UNANSWERED:
            self.unanswered += 1
            self.unparsed += read is None
            return
        self.lettered += 1
        self.right += read == label
        self.other_letter += read is not None and read != label

    @property
    def right_share(self) -> float:
        return self.right / self.lettered if self.lettered else 0.0

    @property
    def other_letter_share(self) -> float:
        return self.other_letter / self.lettered if self.lettered else 0.0

    @property
    def unparsed_share(self) -> float:
        return self.unparsed / self.unanswered if self.unanswered else 0.0


def tally(rows: Iterable[dict[str, Any]], read: Callable[[dict[str, Any]], str | None]) -> Tally:
    """``read`` applied to each labelled row; a letter outside A-D counts as no letter read."""
    counts = Tally()
    for row in rows:
        letter = read(row)
        counts.add(row["label"], letter if letter in tuple(LETTERS) else None)
    return counts
