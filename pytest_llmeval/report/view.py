"""The one reader of the results document (``results.json``, docs/results-document.md).

Every renderer (HTML, JUnit, Markdown) reads rows, keys, comparisons, models and samples through
these functions, so a document written by a run, by ``pytest-llmeval merge`` or by an older
release is read alike everywhere. Each renderer keeps its own layout, but a missing value (nothing
scored, not compared, no interval) reads the same in all of them: ``MISSING``, through ``number``
and ``interval``. Files for programs keep theirs: an empty field in results.csv and JUnit
properties, ``null`` in results.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..results.payload import last_per_sample
from ..results.usage import money as _money

__all__ = ["MISSING", "RowKey", "comparison_key", "comparisons", "interval", "latest_samples", "models", "money",
           "number", "row_key", "row_kind", "rows", "run", "usage", "usage_line", "usage_tokens"]

RowKey = tuple[str, str, str, str]  # (model, suite, "subject" | "group", name)
Document = Mapping[str, Any]
MISSING = "—"  # an em dash: a bare "-" reads as a minus sign beside signed deltas


def number(value: object, spec: str = ".3f") -> str:
    """``value`` for people, formatted by ``spec``; ``MISSING`` for null or anything not a number
    (a bool is not one)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else MISSING


def interval(low: object, high: object) -> str:
    """``[low, high]``, or ``MISSING`` when either end is undefined (nothing scored)."""
    return MISSING if low is None or high is None else f"[{number(low)}, {number(high)}]"


def run(document: Document) -> Mapping[str, Any]:
    return document.get("run") or {}


def rows(document: Document) -> list[Mapping[str, Any]]:
    """Subject rows, then group rows, as written."""
    return [*(document.get("subjects") or []), *(document.get("groups") or [])]


def row_kind(row: Mapping[str, Any]) -> str:
    return "subject" if "subject" in row else "group"


def row_key(row: Mapping[str, Any]) -> RowKey:
    kind = row_kind(row)
    return str(row.get("model")), str(row.get("suite")), kind, str(row.get(kind))


def comparison_key(comparison: Mapping[str, Any]) -> RowKey:
    """The row a comparison (or a regression) is about."""
    return tuple(str(comparison.get(k)) for k in ("model", "suite", "kind", "name"))  # type: ignore[return-value]


def comparisons(document: Document, key: str = "comparisons") -> dict[RowKey, Mapping[str, Any]]:
    """``comparisons`` or ``regressions`` by row; empty without a baseline or in an older document."""
    return {comparison_key(c): c for c in document.get(key) or []}


def models(document: Document) -> list[str]:
    """The run's models in order, then any model only a row names (a merged document)."""
    named = [str(m.get("name")) for m in run(document).get("models") or [] if isinstance(m, Mapping)]
    return list(dict.fromkeys(named + [row_key(row)[0] for row in rows(document)]))


def latest_samples(samples: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One samples.jsonl record per sample: a retried item has a line per report, and the last counted."""
    return last_per_sample(samples)


def usage(document: Document) -> list[Mapping[str, Any]]:
    """Token usage and cost per model (results.json ``usage``); empty in an older document."""
    return [u for u in document.get("usage") or [] if isinstance(u, Mapping)]


def money(value: object, currency: object) -> str:
    """``0.000042 USD`` (``results.usage.money``); ``MISSING`` without a price."""
    return _money(value, currency, MISSING)


def usage_tokens(record: Mapping[str, Any], part: str = "") -> str:
    """``1,234 prompt + 56 completion``, each count marked ``~`` when some replies were estimated;
    ``part`` "sent" or "journal" reads that share of the run."""
    counts = record.get(part) or {} if part else record
    mark = "~" if record.get("estimated") else ""
    return (f"{mark}{int(counts.get('prompt_tokens') or 0):,} prompt + "
            f"{mark}{int(counts.get('completion_tokens') or 0):,} completion")


def usage_line(record: Mapping[str, Any]) -> str:
    """The summary's line for one model: tokens and cost in all, what this run sent, and how many
    replies came from the journal or had their tokens estimated."""
    line = f"usage {record.get('model')}: {usage_tokens(record)} tokens"
    if record.get("currency"):
        line += f", {money(record.get('cost'), record.get('currency'))}"
    sent = record.get("sent") or {}
    journal = record.get("journal") or {}
    if journal.get("prompt_tokens") or journal.get("completion_tokens"):
        line += f"; sent now {usage_tokens(record, 'sent')}"
        if record.get("currency"):
            line += f" ({money(sent.get('cost'), record.get('currency'))})"
        line += f", from the journal {usage_tokens(record, 'journal')}"
    if record.get("estimated"):
        line += f" (~ estimated: {record['estimated']} of {record.get('replies')} replies came without usage)"
    return line
