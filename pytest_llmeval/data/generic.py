"""JSON Lines, CSV and parquet files (or folders of them), read through the ``fields:`` mapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..samples import Sample
from .fields import FieldMap, group_by_subject
from .paths import generic_files
from .readers import Table, no_rows, read_csv_table, read_jsonl, read_parquet
from .spec import DataSpec

__all__ = ["load_generic"]

_READERS: dict[str, tuple[str, Callable[[Path], Table]]] = {
    "jsonl": (".jsonl", read_jsonl),
    "csv": (".csv", read_csv_table),
    "parquet": (".parquet", read_parquet),
}


def load_generic(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    ext, read = _READERS[spec.format]
    mapping = FieldMap(spec)
    samples: list[Sample] = []
    for file, file_subject in generic_files(spec, split, ext):
        found = list(mapping.samples(read(file), file_subject))
        if not found:
            raise no_rows(file)
        samples.extend(found)
    return group_by_subject(samples)
