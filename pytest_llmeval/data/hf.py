"""Hugging Face ``datasets`` folders: one saved with ``save_to_disk``, or a local dataset repo.

``datasets`` is an optional extra, imported only here. Loading never touches the network: the
offline switches are set before the first import, and only local folders are accepted.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ..errors import ConfigError, DataError, detail
from ..samples import Sample
from .fields import FieldMap, group_by_subject
from .readers import Table, no_rows
from .spec import DataSpec

__all__ = ["load_hf"]

_MISSING_PACKAGE = "data.format hf needs the 'datasets' package: pip install pytest-llmeval[hf-data]"


def _datasets(spec: DataSpec) -> Any:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return importlib.import_module("datasets")
    except ImportError:
        raise ConfigError(_MISSING_PACKAGE, where=spec.where or None) from None


def _open(datasets: Any, spec: DataSpec, split: str | None) -> Any:
    path = spec.path
    if not path.is_dir():
        raise DataError("expected a dataset folder (save_to_disk output or a local dataset repo); "
                        "use format jsonl, csv or parquet for a single file", where=str(path))
    saved = (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()
    try:
        if saved:
            return datasets.load_from_disk(str(path))
        return datasets.load_dataset(str(path), split=split)
    except Exception as exc:  # datasets raises from many libraries; none may escape as a traceback
        raise DataError(f"cannot load the dataset ({detail(exc)})", where=str(path)) from None


def _choose_split(datasets: Any, loaded: Any, spec: DataSpec, split: str | None) -> Any:
    """A DatasetDict needs a split, unless it holds just one."""
    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    names = list(loaded)
    if split is None and len(names) == 1:
        return loaded[names[0]]
    if split is None or split not in loaded:
        wanted = "no split chosen" if split is None else f"no split {split!r}"
        raise DataError(f"{wanted} (splits: {', '.join(names)})", where=str(spec.path), key="data.split")
    return loaded[split]


def load_hf(spec: DataSpec, split: str | None) -> dict[str, list[Sample]]:
    datasets = _datasets(spec)
    dataset = _choose_split(datasets, _open(datasets, spec, split), spec, split)
    table = Table(spec.path, tuple(dataset.column_names), dataset.to_list())
    samples = list(FieldMap(spec).samples(table, spec.path.name))
    if not samples:
        raise no_rows(spec.path, "the dataset has no rows")
    return group_by_subject(samples)
