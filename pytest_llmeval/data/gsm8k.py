"""GSM8K: JSON Lines of ``question`` and a worked ``answer`` whose last ``#### `` line is the result.

The target is that final number with thousands commas removed ("#### 2,125" gives "2125"), so it
compares as a number; the full solution stays in the ``answer`` field for few-shot examples.
"""

from __future__ import annotations

from ..errors import DataError
from ..samples import Sample
from .readers import Table, no_rows, read_jsonl
from .spec import DEFAULT_SPLITS, DataSpec

__all__ = ["gsm8k_target", "load_gsm8k"]


def gsm8k_target(answer: str) -> str | None:
    """The text after the last ``####``, stripped and without commas; None when there is none."""
    _, marker, final = answer.rpartition("####")
    if not marker:
        return None
    return final.strip().replace(",", "") or None


def _sample(table: Table, index: int, subject: str) -> Sample:
    row = table.rows[index]
    question, answer = row.get("question"), row.get("answer")
    if not isinstance(question, str) or not isinstance(answer, str):
        raise DataError("expected string keys 'question' and 'answer'", where=table.where(index))
    target = gsm8k_target(answer)
    if target is None:
        raise DataError("answer has no final '#### <number>' line", where=table.where(index))
    return Sample(id=str(index), subject=subject, fields={**row, "target": target}, target=target,
                  origin=table.where(index))


def load_gsm8k(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    """``<root>/<split>.jsonl``, or the file itself; subject ``data.subject`` or "gsm8k"."""
    name = split or DEFAULT_SPLITS["gsm8k"]
    file = spec.path if spec.path.is_file() else spec.path / f"{name}.jsonl"
    if not file.is_file():
        raise DataError(f"no {name}.jsonl in {spec.path}", where=spec.where or None, key="data.split")
    table = read_jsonl(file)
    if not table.rows:
        raise no_rows(file)
    subject = spec.subject or "gsm8k"
    return {subject: [_sample(table, i, subject) for i in range(len(table.rows))]}
