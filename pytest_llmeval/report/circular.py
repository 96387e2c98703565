"""The robustness lines of the terminal summary, read from results.json's ``circular`` and
``perturb`` rows (``results/circular.py``, ``results/perturb.py``), so a run and a merge of its
shards print the same lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["circular_lines", "letter_shares", "perturb_lines", "transform_shares"]


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


def perturb_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per model and subject: accuracy on originals and on variants, and consistency."""
    return [_perturb_line(row) for row in rows]


def _perturb_line(row: Mapping[str, Any]) -> str:
    limit = f", min {row['min_consistency']:.3f}" if row.get("min_consistency") is not None else ""
    errors = f", {row['errors']} with errors" if row.get("errors") else ""
    return (f"perturb {row['model']} {row['suite']}/{row['subject']}: originals {row['original_correct']}/"
            f"{row['questions']} ({_pct(row.get('original_accuracy'))}), variants {row['variants_correct']}/"
            f"{row['variants']} ({_pct(row.get('variant_accuracy'))}), consistency {row['consistent']}/"
            f"{row['questions']} ({_pct(row.get('consistency'))}{limit}){errors}; "
            f"{transform_shares(row.get('by_transform') or {})}")


def transform_shares(shares: Mapping[str, float]) -> str:
    """``case 100% typo 67%``: each transform's accuracy."""
    return " ".join(f"{name} {value:.0%}" for name, value in sorted(shares.items()))
