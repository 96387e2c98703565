"""What a suite asks a loader for, as one immutable value the suite layer builds and we only read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_SPLITS", "DataSpec"]

# C-Eval defaults to val because its test split ships without answers, so it cannot be scored.
DEFAULT_SPLITS: Mapping[str, str] = {"mmlu": "test", "cmmlu": "test", "ceval": "val", "gsm8k": "test"}


@dataclass(frozen=True, slots=True)
class DataSpec:
    """A suite's ``data:`` block, with ``path`` already resolved against the suite file.

    ``fields`` maps canonical names (``id``, ``subject``, ``question``, ``target``, ``choices``)
    to source columns; any other name becomes an extra template variable holding that column.
    ``where`` is the suite file, kept only so errors about the block itself can name it.
    """

    format: str
    path: Path
    split: str | None = None
    fields: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    subject: str | None = None
    where: str = ""
