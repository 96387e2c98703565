"""The ``fields:`` mapping: how a row of a generic format (jsonl, csv, parquet, hf) becomes a Sample.

Canonical names and their fallbacks when unmapped: ``id`` (else the 0-based row index in its
file), ``subject`` (else ``data.subject``, else the file's subject), ``question``, ``target``
(else a column ``answer``) and ``choices`` (a list of columns, or one column holding a list;
else a list column ``choices``, else columns ``A``, ``B``, ... in order). Any other mapped name
becomes an extra template variable. The mapping is checked against a file's columns once, not per
row, except for JSON Lines, where each object may carry its own keys.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from ..errors import DataError
from ..samples import CHOICE_LABELS, Sample
from .readers import Table
from .spec import DataSpec

__all__ = ["FieldMap", "group_by_subject"]

_CANONICAL = frozenset({"id", "subject", "question", "target", "choices"})
_DEFAULT_LETTERS = CHOICE_LABELS[:10]  # A..J, as MMLU-Pro has at most ten options
_MISSING = object()


def group_by_subject(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for sample in samples:
        out.setdefault(sample.subject, []).append(sample)
    return out


def _text(value: Any) -> str | None:
    """A cell as the Sample wants it: None, "" and a float that is not a number (JSON's NaN, a
    parquet float column's gap) all mean "no value", so nothing is ever asked or scored as "nan".
    An object or a list (a JSON Lines cell) is written as JSON, the form ``task: json_match`` reads."""
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _listing(columns: Collection[str]) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


class FieldMap:
    """One spec's mapping, validated up front so a typo fails before any file is read."""

    def __init__(self, spec: DataSpec) -> None:
        self._spec = spec
        self._single: dict[str, str] = {}
        self._choices: list[str] | None = None
        for name, mapped in spec.fields.items():
            if isinstance(mapped, str):
                self._single[name] = mapped
            elif name == "choices" and all(isinstance(c, str) for c in mapped):
                self._choices = list(mapped)
            else:
                expected = "a column name or a list of column names" if name == "choices" else "one column name"
                raise DataError(f"expected {expected}, got {mapped!r}", where=spec.where or None, key=f"fields.{name}")

    def check(self, columns: Collection[str], where: str) -> None:
        wanted = [(name, column) for name, column in self._single.items()]
        wanted += [("choices", column) for column in self._choices or []]
        for name, column in wanted:
            if column not in columns:
                raise DataError(f"column {column!r} not found in {where} (columns: {_listing(columns)})",
                                key=f"fields.{name}")

    def samples(self, table: Table, file_subject: str) -> Iterator[Sample]:
        if table.columns is not None:
            self.check(table.columns, str(table.path))
        for index, row in enumerate(table.rows):
            if table.columns is None:
                self.check(row.keys(), table.where(index))
            yield self.sample(row, index, file_subject, table.where(index))

    def _pick(self, row: dict[str, Any], name: str, *fallbacks: str) -> Any:
        mapped = self._single.get(name)
        if mapped is not None:
            return row[mapped]
        for candidate in (name, *fallbacks):
            if candidate in row:
                return row[candidate]
        return _MISSING

    def _pick_text(self, row: dict[str, Any], name: str, *fallbacks: str) -> str | None:
        value = self._pick(row, name, *fallbacks)
        return None if value is _MISSING else _text(value)

    def _options(self, row: dict[str, Any], where: str) -> list[Any]:
        if self._choices is not None:
            return [row[c] for c in self._choices]
        mapped = self._single.get("choices")
        cell = row[mapped] if mapped is not None else row.get("choices")
        if isinstance(cell, (list, tuple)):
            return list(cell)
        if mapped is not None:
            raise DataError(f"column {mapped!r} holds {type(cell).__name__}, expected a list of options "
                            "(or map choices to a list of columns)", where=where, key="fields.choices")
        letters = list(itertools.takewhile(lambda label: label in row, _DEFAULT_LETTERS))
        return [row[label] for label in letters] if len(letters) >= 2 else []

    def sample(self, row: dict[str, Any], index: int, file_subject: str, where: str) -> Sample:
        options = self._options(row, where)
        if len(options) > len(CHOICE_LABELS):
            raise DataError(f"{len(options)} options, at most {len(CHOICE_LABELS)} are supported",
                            where=where, key="fields.choices")
        choices = tuple(_text(c) or "" for c in options)  # an option with no value is caught by the suite's checks
        target = self._pick_text(row, "target", "answer")
        fields = dict(row)
        fields.update({name: row[column] for name, column in self._single.items() if name not in _CANONICAL})
        question = self._pick(row, "question")
        if question is not _MISSING:
            fields["question"] = question
        fields.update(zip(CHOICE_LABELS, choices))
        fields["target"] = target
        return Sample(
            id=self._pick_text(row, "id") or str(index),
            subject=self._pick_text(row, "subject") or self._spec.subject or file_subject,
            fields=fields, target=target, choices=choices, origin=where,
        )
