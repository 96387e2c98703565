"""Dataset loaders: every supported layout becomes ``{subject: [Sample, ...]}`` in file order.

Formats (``FORMATS``, the keys of ``formats.REGISTRY``): the generic ``jsonl``, ``csv``,
``parquet``, ``json`` and ``hf``, read through a ``fields:`` mapping (see ``fields.py``), and the
standard layouts ``mmlu``, ``cmmlu``, ``ceval`` and ``gsm8k``, which know their files' quirks
(see ../shared/data/SOURCES.md). A new format is one module plus one line in ``formats.py``.

Default split when none is given: ``test`` for mmlu, cmmlu and gsm8k; ``val`` for ceval, whose
test split ships without answers. Generic formats have no default: a folder without a split
loads every file in it. A standard layout pointed at a split folder takes the folder's name.

CSVs are read as strings with NA detection off, so nothing is silently turned into NaN. Every
bad input raises a one-line ``DataError`` naming the file (and line, or field); an unknown format
or a missing optional package raises ``ConfigError``.
"""

from __future__ import annotations

from .formats import FORMATS
from .gsm8k import gsm8k_target
from .loader import load
from .spec import DataSpec

__all__ = ["DataSpec", "FORMATS", "gsm8k_target", "load"]
