"""The per-subject multiple-choice CSV layouts: MMLU, CMMLU and C-Eval, one file per subject.

Each knows its own quirks (see ../shared/data/SOURCES.md): MMLU has no header row, so its six
columns are named here; CMMLU's first column is an unnamed row index, used as the id; C-Eval
names its columns, keeps an ``explanation`` in dev and has no ``answer`` column in test, whose
targets are therefore None. Every raw column stays a template variable under its own name, plus
the canonical ``question``, ``A``..``D``, ``answer`` and ``target``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..samples import Sample
from .paths import layout_files
from .readers import Table, no_rows, read_csv
from .spec import DEFAULT_SPLITS, DataSpec

__all__ = ["load_ceval", "load_cmmlu", "load_mmlu"]

_OPTIONS = ("A", "B", "C", "D")


@dataclass(frozen=True, slots=True)
class _Layout:
    format: str
    suffixed: bool                   # file names end in _<split>
    positional: tuple[str, ...]      # column names for a headerless file; () when it has a header
    question: str
    answer: str
    id: str | None                   # id column; None: the row index
    unnamed_id: bool = False         # the id column's header cell is empty
    answer_optional: bool = False    # a split may ship without answers


_MMLU = _Layout("mmlu", True, ("question", *_OPTIONS, "answer"), "question", "answer", None)
_CMMLU = _Layout("cmmlu", False, (), "Question", "Answer", "id", unnamed_id=True)
_CEVAL = _Layout("ceval", True, (), "question", "answer", "id", answer_optional=True)


def _columns(layout: _Layout, frame: Any, file: Path) -> list[str]:
    found = [str(c) for c in frame.columns]
    if layout.positional:
        if len(found) != len(layout.positional):
            raise DataError(f"expected {len(layout.positional)} columns without a header "
                            f"({', '.join(layout.positional)}), found {len(found)}", where=str(file))
        return list(layout.positional)
    if layout.unnamed_id and found and found[0].startswith("Unnamed: "):
        found[0] = "id"  # pandas names the empty header cell "Unnamed: 0"
    required = [c for c in (layout.id, layout.question, *_OPTIONS) if c]
    required += [] if layout.answer_optional else [layout.answer]
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(f"missing column {missing[0]!r} (expected {', '.join(required)}; found {', '.join(found)})",
                        where=str(file))
    return found


def _sample(layout: _Layout, subject: str, index: int, row: dict[str, Any], origin: str) -> Sample:
    answer = row.get(layout.answer) or None
    fields = {**row, "question": row[layout.question], "target": answer}
    if answer is not None:
        fields["answer"] = answer
    ident = row[layout.id] if layout.id else str(index)
    return Sample(id=ident or str(index), subject=subject, fields=fields, target=answer,
                  choices=tuple(row[o] for o in _OPTIONS), origin=origin)


def _load(layout: _Layout, spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for file, subject in layout_files(spec, split, DEFAULT_SPLITS[layout.format], suffixed=layout.suffixed):
        frame, lines = read_csv(file, header=not layout.positional)
        columns = _columns(layout, frame, file)
        if frame.empty:
            raise no_rows(file)
        table = Table(file, tuple(columns), [dict(zip(columns, values)) for values in frame.to_numpy().tolist()], lines)
        out[subject] = [_sample(layout, subject, i, row, table.where(i)) for i, row in enumerate(table.rows)]
    return out


def load_mmlu(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    return _load(_MMLU, spec, split)


def load_cmmlu(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    return _load(_CMMLU, spec, split)


def load_ceval(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    return _load(_CEVAL, spec, split)
