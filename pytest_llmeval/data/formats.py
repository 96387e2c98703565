"""The data-format registry: every value ``data.format`` accepts, and what reads it.

A new format is one module plus one line in ``REGISTRY``. A file of rows read through the
``fields:`` mapping (like ``json.py``) writes only a reader, ``Path -> Table``, and registers it
with ``rows_format``; a layout with its own quirks (like ``gsm8k.py``) writes a loader,
``(DataSpec, split) -> {subject: [Sample, ...]}``. The suite schema, ``load``, the
``llmeval.dataset`` guess from a file suffix and the error that lists the formats all read this
table, so nothing else needs an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ..samples import Sample
from .fields import FieldMap, group_by_subject
from .gsm8k import load_gsm8k
from .hf import load_hf
from .humaneval import load_humaneval
from .json import read_json_array
from .paths import generic_files
from .readers import Table, no_rows, read_csv_table, read_jsonl, read_parquet
from .spec import DataSpec
from .standard import load_ceval, load_cmmlu, load_mmlu
from .truthfulqa import load_truthfulqa

__all__ = ["FORMATS", "REGISTRY", "Format", "Loader", "format_for_suffix", "rows_format"]

Loader = Callable[[DataSpec, "str | None"], dict[str, list[Sample]]]


@dataclass(frozen=True, slots=True)
class Format:
    """One ``data.format``: its name, its loader, and the file suffix that names it (rows formats)."""

    name: str
    load: Loader
    suffix: str | None = None  # ``llmeval.dataset("quiz.jsonl")`` needs no format= when it is set


def rows_format(name: str, suffix: str, read: Callable[[Path], Table]) -> Format:
    """A format of row files (or folders of them, split by name) read through ``fields:``."""

    def load(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
        mapping = FieldMap(spec)
        samples: list[Sample] = []
        for file, file_subject in generic_files(spec, split, suffix):
            found = list(mapping.samples(read(file), file_subject))
            if not found:
                raise no_rows(file)
            samples.extend(found)
        return group_by_subject(samples)

    return Format(name, load, suffix)


def _registry(*formats: Format) -> Mapping[str, Format]:
    return MappingProxyType({f.name: f for f in formats})


REGISTRY: Mapping[str, Format] = _registry(
    rows_format("jsonl", ".jsonl", read_jsonl),
    rows_format("csv", ".csv", read_csv_table),
    rows_format("parquet", ".parquet", read_parquet),
    Format("mmlu", load_mmlu),
    Format("cmmlu", load_cmmlu),
    Format("ceval", load_ceval),
    Format("gsm8k", load_gsm8k),
    Format("hf", load_hf),
    rows_format("json", ".json", read_json_array),
    Format("humaneval", load_humaneval),
    Format("truthfulqa", load_truthfulqa),
)


FORMATS: tuple[str, ...] = tuple(REGISTRY)


def format_for_suffix(path: Path) -> str | None:
    """The rows format a file's suffix names, if any."""
    return next((f.name for f in REGISTRY.values() if f.suffix == path.suffix), None)
