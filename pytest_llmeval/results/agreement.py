"""What a judge is worth: its verdicts against a person's on the same replies (calibration).

- **Agreement**: the share of replies where the judge gave the person's verdict.
- **Cohen's kappa**: agreement corrected for what two raters with these label frequencies would
  reach by chance, (p_o - p_e) / (1 - p_e). 0 is chance, 1 is perfect; a judge that says PASS to
  everything agrees 80% on a set that is 80% PASS, and its kappa is 0.
- **Weighted kappa** (1..K scales): a 4 against a person's 5 is a smaller miss than a 1.
  Quadratic weights, (i - j)², the usual choice for ordinal ratings (it equals the intraclass
  correlation, Fleiss and Cohen 1973); computed as scikit-learn's
  ``cohen_kappa_score(weights="quadratic")``.
- **Confusion matrix**: rows the person's verdicts, columns the judge's, then an ``unparsed`` column.

Unparsed verdicts are never dropped silently. They count in agreement and kappa as a category of
their own that never matches a person's (a judge that cannot be read is not agreeing), and in the
matrix's last column; weighted kappa needs a place on the scale, so it is computed over the parsed
verdicts only, and ``unparsed`` says how many were left out. Kappa is undefined (nan) when chance
alone would agree perfectly: both raters used one and the same label throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Calibration", "UNPARSED", "calibrate", "cohen_kappa", "confusion_matrix"]

UNPARSED = "unparsed"
Weights = Literal["linear", "quadratic"] | None


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts of (truth, predicted) pairs: row ``i`` is ``labels[i]`` in ``truth``, column ``j``
    ``labels[j]`` in ``predicted``. A value outside ``labels`` is an error, not a silent drop."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} verdicts against {len(predicted)}")
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, predicted):
        if t not in index or p not in index:
            raise ValueError(f"verdict {t if t not in index else p!r} is not one of {', '.join(labels)}")
        matrix[index[t]][index[p]] += 1
    return matrix


def cohen_kappa(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str], weights: Weights = None) -> float:
    """Cohen's kappa of two raters over ``labels`` (in scale order when weighted): 1 minus the
    weighted observed disagreement over the disagreement expected from the marginals."""
    matrix = confusion_matrix(truth, predicted, labels)
    n = sum(map(sum, matrix))
    if n == 0:
        return float("nan")
    rows = [sum(row) for row in matrix]
    columns = [sum(column) for column in zip(*matrix)]
    observed = expected = 0.0
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            weight = _weight(i, j, weights)
            observed += weight * count
            expected += weight * rows[i] * columns[j] / n
    return 1 - observed / expected if expected else float("nan")


def _weight(i: int, j: int, weights: Weights) -> float:
    if weights is None:
        return float(i != j)
    return float(abs(i - j) if weights == "linear" else (i - j) ** 2)


@dataclass(frozen=True, slots=True)
class Calibration:
    """A judge against a person on ``n`` replies (see the module docstring for each number)."""

    labels: tuple[str, ...]
    n: int
    unparsed: int
    agreement: float
    kappa: float
    weighted_kappa: float | None  # 1..K scales only, over the parsed verdicts
    confusion: tuple[tuple[int, ...], ...]  # rows: labels (person); columns: labels, then unparsed (judge)


def calibrate(human: Sequence[str], judge: Sequence[str | None], labels: Sequence[str], *, ordinal: bool) -> Calibration:
    """Compare the judge's verdicts (``None``: unparsed) with a person's, over the rubric's
    ``labels`` (scale order when ``ordinal``, which adds the quadratic weighted kappa)."""
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human verdicts against {len(judge)} judge verdicts")
    stray = next((h for h in human if h not in labels), None)
    if stray is not None:
        raise ValueError(f"human verdict {stray!r} is not one of {', '.join(labels)}")
    read = [UNPARSED if v is None else v for v in judge]
    columns = (*labels, UNPARSED)
    matrix = confusion_matrix(human, read, columns)
    n = len(human)
    matches = sum(h == j for h, j in zip(human, read))
    parsed = [(h, j) for h, j in zip(human, read) if j != UNPARSED]
    weighted = None
    if ordinal:
        weighted = cohen_kappa([h for h, _ in parsed], [j for _, j in parsed], labels, "quadratic")
    return Calibration(
        labels=tuple(labels), n=n, unparsed=n - len(parsed), agreement=matches / n if n else float("nan"),
        kappa=cohen_kappa(human, read, columns), weighted_kappa=weighted,
        confusion=tuple(tuple(row) for row in matrix[: len(labels)]))
