"""The circular-evaluation block of the terminal summary, read from results.json's ``circular``
rows (``results/circular.py``), so a run and a merge of its shards print the same lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["circular_lines", "letter_shares"]


def circular_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per model and subject: circular accuracy, plain accuracy over rotations, position bias."""
    return [_line(row) for row in rows]


def _line(row: Mapping[str, Any]) -> str:
    head = (f"circular {row['model']} {row['suite']}/{row['subject']}: {row['correct']}/{row['questions']} questions "
            f"right under every rotation ({_pct(row.get('score'))}); plain accuracy {row['rotations_correct']}/"
            f"{row['rotations']} rotations ({_pct(row.get('accuracy'))})")
    extra = [f"{row[key]} {word}" for key, word in (("errors", "with errors"), ("incomplete", "incomplete")) if row.get(key)]
    bias = f"; position bias {row['bias']:.3f} (picks {letter_shares(row.get('picks') or {})} vs answers " \
           f"{letter_shares(row.get('targets') or {})})" if row.get("bias") is not None else ""
    return head + (f", {', '.join(extra)}" if extra else "") + bias


def letter_shares(shares: Mapping[str, float]) -> str:
    """``A 40% B 20% ...``: each letter's share, in letter order."""
    return " ".join(f"{letter} {value:.0%}" for letter, value in sorted(shares.items()))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
