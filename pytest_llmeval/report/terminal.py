"""The terminal summary as lines: pure computation, no terminal, no decisions.

One row per suite-subject, then that suite's groups (marked ``[group]``); one column block per
model when several are compared (OpenCompass style). ``unparsed`` is the share of replies with no
readable answer (shown once any reply was read by an extraction rule), ``max unparsed`` its limit
(shown once a limit is set). Widths count display cells, so CJK subject names align. The failure
lines come from ``results.verdict``, the same lines that set the exit status, so what is printed
and what is decided cannot drift apart.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass

from ..results.aggregate import Row, Summary
from ..results.verdict import failures
from .view import MISSING, interval, number

__all__ = ["Line", "summary_lines"]

Line = tuple[str, dict[str, bool]]
_GAP = "  "
_BLOCK_GAP = "  |  "
_RowKey = tuple[str, str, str]  # (suite, kind, name)


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    right: bool = False


_SHARED = [_Column("suite/subject"), _Column("version"), _Column("metric"), _Column("mode"), _Column("threshold", True)]
_PER_MODEL = [_Column("n", True), _Column("score", True), _Column("95% CI"), _Column("verdict")]
_ERRORS = _Column("errors", True)
_UNPARSED = _Column("unparsed", True)
_MAX_UNPARSED = _Column("max unparsed", True)
_METRICS = _Column("other metrics")
_ASKED = _Column("asked", True)
_BASELINE = [_Column("change", True), _Column("p", True)]


def summary_lines(summary: Summary, verdict: Sequence[str] | None = None,
                  comparisons: Sequence[dict[str, Any]] | None = None) -> list[Line]:
    """The table (header bold, failing rows red, rows with errors yellow), then each failure, red
    and bold. ``verdict`` is the run's failure lines (default: the summary's own); with
    ``comparisons`` (a baseline) each model's block gains the change and McNemar's p."""
    lines = _table(summary, comparisons) if summary.rows else [("no llmeval results", {})]
    return lines + [(text, {"red": True, "bold": True}) for text in (failures(summary) if verdict is None else verdict)]


@dataclass(frozen=True, slots=True)
class _Shown:
    """The optional columns this summary needs."""

    errors: bool
    unparsed: bool
    limit: bool
    metrics: bool = False  # mode: cloze computes several metrics; the score column shows one
    asked: bool = False  # some samples were not sent (early stopping, a budget): asked / total

    @classmethod
    def of(cls, summary: Summary) -> _Shown:
        return cls(errors=bool(summary.errors), unparsed=any(r.unparsed is not None for r in summary.rows),
                   limit=any(r.max_unparsed is not None for r in summary.rows),
                   metrics=any(r.metrics for r in summary.rows), asked=any(r.asked < r.total for r in summary.rows))


def _table(summary: Summary, comparisons: Sequence[dict[str, Any]] | None = None) -> list[Line]:
    shown = _Shown.of(summary)
    shared = _SHARED + [_MAX_UNPARSED] * shown.limit
    per_model = [*[_ASKED] * shown.asked, _PER_MODEL[0], *[_ERRORS] * shown.errors, *_PER_MODEL[1:3], *[_UNPARSED] * shown.unparsed,
                 _PER_MODEL[3], *[_METRICS] * shown.metrics]
    compared = {(c["suite"], c["kind"], c["name"], c["model"]): c for c in comparisons} if comparisons is not None else None
    if compared is not None:
        per_model += _BASELINE
    columns = shared + per_model * len(summary.models)
    index = {(r.suite, r.kind, r.name, r.model): r for r in summary.rows}
    keys = _row_keys(summary)
    table = [[c.title for c in columns]]
    for key in keys:
        cells = _shared_cells(key, [index.get((*key, m)) for m in summary.models], shown)
        for model in summary.models:
            cells += _model_cells(index.get((*key, model)), shown)
            if compared is not None:
                cells += _change_cells(compared.get((*key, model)))
        table.append(cells)
    widths = [max(_width(text) for text in column) for column in zip(*table)]
    blocks = _blocks(len(shared), len(per_model), len(summary.models))
    widths = _fit_names(summary.models, widths, blocks)
    header: list[Line] = [(_span_line(summary.models, widths, blocks), {"bold": True})] if blocks else []
    header.append((_join(table[0], columns, widths, blocks), {"bold": True}))
    body = [_join(row, columns, widths, blocks) for row in table[1:]]
    regressed = {k for k, c in (compared or {}).items() if c["regressed"]}
    return header + [(text, _markup(key, index, summary.models, regressed)) for key, text in zip(keys, body)]


def _row_keys(summary: Summary) -> list[_RowKey]:
    """Each suite's subjects, then its groups; both sorted by name (as aggregate sorted them)."""
    keys = dict.fromkeys((r.suite, r.kind, r.name) for r in summary.subjects + summary.groups)
    return sorted(keys, key=lambda k: (k[0], k[1] != "subject", k[2]))


def _shared_cells(key: _RowKey, rows: Sequence[Row | None], shown: _Shown) -> list[str]:
    suite, kind, name = key
    present = [r for r in rows if r is not None]
    label = f"{suite}/{name}" + (" [group]" if kind == "group" else "")
    shared = [
        label,
        _distinct(r.version for r in present), _distinct(r.metric for r in present),
        _distinct(r.mode for r in present), _distinct(number(r.threshold) for r in present),
    ]
    if shown.limit:
        shared.append(_distinct(number(r.max_unparsed) for r in present))
    return shared


def _change_cells(comparison: dict[str, Any] | None) -> list[str]:
    """The change against the baseline over paired samples, and p (``*`` when significant,
    ``!`` when it is a regression); ``n/c`` when not comparable, ``new`` when not in the baseline."""
    if comparison is None or comparison["status"] == "no_baseline":
        return ["new", MISSING]
    if comparison["status"] != "compared":
        return ["n/c", MISSING]
    mark = "!" if comparison["regressed"] else "*" if comparison["significant"] else ""
    return [f"{comparison['delta']:+.3f}", f"{comparison['p_value']:.3g}{mark}"]


def _model_cells(row: Row | None, shown: _Shown) -> list[str]:
    if row is None:
        return [MISSING] * (4 + shown.errors + shown.unparsed + shown.metrics + shown.asked)
    gated = row.threshold is not None or row.max_unparsed is not None
    verdict = MISSING if not gated else ("PASS" if row.passed and row.unparsed_passed else "FAIL")
    if row.stopped_early_at is not None:
        verdict += f", stopped early at n={row.stopped_early_at}"
    elif row.incomplete is not None:
        verdict = "FAIL, incomplete"
    asked = [f"{row.asked}/{row.total}"] if shown.asked else []
    errors = [str(row.errors)] if shown.errors else []
    unparsed = [number(row.unparsed_share)] if shown.unparsed else []
    metrics = [_other_metrics(row)] if shown.metrics else []
    return [*asked, str(row.n), *errors, number(row.score), interval(row.ci_low, row.ci_high), *unparsed, verdict, *metrics]


def _other_metrics(row: Row) -> str:
    """``acc 0.250 acc_bytes 0.250``: each computed metric but the row's own (its score)."""
    return " ".join(f"{name} {value:.3f}" for name, value in row.metrics.items() if name != row.metric) or MISSING


def _markup(key: _RowKey, index: dict[tuple[str, str, str, str], Row], models: list[str],
            regressed: set[tuple[str, str, str, str]] | None = None) -> dict[str, bool]:
    rows = [r for r in (index.get((*key, m)) for m in models) if r is not None]
    if any(not r.passed or not r.unparsed_passed for r in rows) or any((*key, m) in (regressed or set()) for m in models):
        return {"red": True}
    if any(r.errors for r in rows):
        return {"yellow": True}
    return {}


def _blocks(shared: int, per_model: int, models: int) -> list[int]:
    """Indexes of the columns that start a model's block (a visible separator when comparing)."""
    return [shared + i * per_model for i in range(models)] if models > 1 else []


def _join(texts: Sequence[str], columns: Sequence[_Column], widths: Sequence[int], blocks: Sequence[int]) -> str:
    parts = []
    for i, (text, column, width) in enumerate(zip(texts, columns, widths)):
        gap = "" if i == 0 else (_BLOCK_GAP if i in blocks else _GAP)
        parts.append(gap + _pad(text, width, column.right))
    return "".join(parts).rstrip()


def _fit_names(models: Sequence[str], widths: Sequence[int], blocks: Sequence[int]) -> list[int]:
    """Widths with each block's last column widened where the model's name is wider than its block."""
    fitted = list(widths)
    for model, start, end in zip(models, blocks, [*blocks[1:], len(widths)]):
        fitted[end - 1] += max(0, _width(model) - _span(fitted[start:end]))
    return fitted


def _span_line(models: Sequence[str], widths: Sequence[int], blocks: Sequence[int]) -> str:
    """The model names, each over its own block of columns."""
    line = " " * _span(widths[: blocks[0]])
    for model, start, end in zip(models, blocks, [*blocks[1:], len(widths)]):
        line += _BLOCK_GAP + _pad(model, _span(widths[start:end]), False)
    return line.rstrip()


def _span(widths: Sequence[int]) -> int:
    return sum(widths) + len(_GAP) * (len(widths) - 1)


def _distinct(values: Iterable[str]) -> str:
    """The value all models share, or (should they differ) each distinct value joined by '+'."""
    seen = list(dict.fromkeys(values))
    return "+".join(seen) if seen else MISSING


def _width(text: str) -> int:
    """Display cells: East Asian wide and fullwidth characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill
